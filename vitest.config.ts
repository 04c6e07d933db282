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
  },
})
