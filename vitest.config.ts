import { defineConfig } from 'vitest/config'

// Tests talk to real sockets, real PostgreSQL and the devnet: give them room,
// but keep files in separate forks so one file's servers never leak into another.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 2,
    // Node 20's require(esm) can abort the whole worker (FATAL "IsGraphAsync must be
    // used on an instantiated module") when a CommonJS dependency require()s an ES
    // module that is being imported at the same time (seen once in CI). Test
    // workers load no ES module through require(): the old ERR_REQUIRE_ESM, which
    // such dependencies catch, is safe.
    execArgv: ['--no-experimental-require-module'],
  },
})
