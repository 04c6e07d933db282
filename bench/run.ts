// `npm run bench -- <name> [options] [--json]`: dispatches to bench/<name>.ts.
// Every benchmark measures a baseline in the same run and prints the ratio.
import { isPoolError, ErrorCode } from '../src/errors.js'
const BENCHES: Record<string, () => Promise<{ run(argv: string[]): Promise<void> }>> = {
  hash: () => import('./hash.js'),
  verify: () => import('./verify.js'),
  stratum: () => import('./stratum.js'),
  devnet: () => import('./devnet.js'),
  chain: () => import('./chain.js'),
  ledger: () => import('./ledger.js'),
}

const [name, ...rest] = process.argv.slice(2)
const load = name === undefined ? undefined : BENCHES[name]
if (!load) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [--json]\n`)
  process.exit(2)
}
const mod = await load()
try {
  await mod.run(rest)
} catch (err) {
  // A bad option: its message and exit code 2, as the CLI does (no stack).
  if (!isPoolError(err, ErrorCode.ARGUMENT_INVALID)) throw err
  process.stderr.write(`bench ${name}: ${err.message}\n`)
  process.exitCode = 2
}
