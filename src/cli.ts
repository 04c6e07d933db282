#!/usr/bin/env node
// The `kale-pool` command. Each subcommand lives in src/commands/<name>.ts and
// exports run(argv) → exit code; modules load lazily so `kale-pool hash` does not
// pay for the Stellar SDK or the database driver.
import { isPoolError, ErrorCode } from './errors.js'

const COMMANDS: Record<string, { load: () => Promise<{ run(argv: readonly string[]): Promise<number> }>; help: string }> = {
  start: { load: () => import('./commands/start.js'), help: 'run the pool (devnet + embedded database by default)' },
  devnet: { load: () => import('./commands/devnet.js'), help: 'run a local KALE network speaking Soroban RPC' },
  mine: { load: () => import('./commands/mine.js'), help: 'reference CPU miner (--url, --user, --threads; --benchmark)' },
  farmers: { load: () => import('./commands/farmers.js'), help: 'farmer accounts: add <count> [--stake-percent P] | list' },
  migrate: { load: () => import('./commands/migrate.js'), help: 'apply database migrations and exit' },
  hash: { load: () => import('./commands/hash.js'), help: 'hash one KALE preimage: --index --nonce --entropy --farmer' },
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(8)} ${c.help}`)
  return `usage: kale-pool <command> [options]\n\ncommands:\n${lines.join('\n')}\n`
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage())
    return name === undefined ? 2 : 0
  }
  // Own keys only: "toString" or "constructor" are not commands.
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (!cmd) {
    process.stderr.write(`kale-pool: unknown command "${name}"\n${usage()}`)
    return 2
  }
  try {
    const mod = await cmd.load()
    return await mod.run(rest)
  } catch (err) {
    if (isPoolError(err)) {
      process.stderr.write(`kale-pool ${name}: ${err.message}\n`)
      return err.code === ErrorCode.ARGUMENT_INVALID || err.code === ErrorCode.CONFIG_INVALID ? 2 : 1
    }
    process.stderr.write(`kale-pool ${name}: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    return 1
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`kale-pool: ${String(err)}\n`)
    process.exitCode = 1
  },
)
