// `kale-pool devnet`: runs the local KALE network until SIGINT/SIGTERM and
// prints its DevnetInfo JSON on one line.
import { parseArgs, intFlag, numberFlag, stringFlag } from '../args.js'
import { startDevnet } from '../devnet/index.js'
import { BOTS_MAX } from '../devnet/bots.js'

const KNOWN = ['port', 'host', 'ledger-ms', 'bots', 'fault-rate', 'seed', 'data', 'temp-ttl-ledgers']

export async function run(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, KNOWN)
  const seed = args.flags.get('seed')
  const data = args.flags.get('data')
  const devnet = await startDevnet({
    port: intFlag(args, 'port', 0, 65_535, 8000),
    host: stringFlag(args, 'host', '127.0.0.1'),
    ledgerMs: intFlag(args, 'ledger-ms', 10, 600_000, 5000),
    bots: intFlag(args, 'bots', 0, BOTS_MAX, 0),
    faultRate: numberFlag(args, 'fault-rate', 0, 1, 0),
    tempTtlLedgers: intFlag(args, 'temp-ttl-ledgers', 1, 10_000_000, 17_280),
    ...(typeof seed === 'string' ? { seed } : {}),
    ...(typeof data === 'string' ? { dataDir: data } : {}),
  })
  process.stdout.write(`${JSON.stringify(devnet.info)}\n`)
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await devnet.close()
  return 0
}
