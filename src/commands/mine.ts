// `kale-pool mine --url stratum+tcp://HOST:PORT --user ADDR[.worker] [--password P] [--threads N] [--seconds S]`
// `kale-pool mine --benchmark [--threads N] [--seconds S]` → one JSON line {"hashesPerSecond", "threads"}
// Mining prints hashrate and accepted/rejected shares every 10 s (--report-seconds).
import { availableParallelism } from 'node:os'
import { parseArgs, stringFlag, intFlag, numberFlag } from '../args.js'
import { benchmark } from '../miner/hash-threads.js'
import { Miner } from '../miner/miner.js'
import { parseStratumUrl } from '../miner/client.js'

/** The longest --seconds: what one timer can wait (2^31 − 1 ms); beyond it setTimeout fires at once. */
const TIMER_SECONDS_MAX = 2_147_483

export async function run(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, ['url', 'user', 'password', 'threads', 'seconds', 'report-seconds'], ['benchmark'])
  const threads = intFlag(args, 'threads', 1, 256, availableParallelism())
  if (args.flags.get('benchmark') === true) {
    const seconds = numberFlag(args, 'seconds', 0.1, 3600, 5)
    const r = await benchmark({ threads, seconds })
    process.stdout.write(JSON.stringify({ hashesPerSecond: r.hashesPerSecond, threads: r.threads }) + '\n')
    return 0
  }
  const url = stringFlag(args, 'url')
  parseStratumUrl(url)
  const user = stringFlag(args, 'user')
  const password = stringFlag(args, 'password', '')
  const seconds = args.flags.has('seconds') ? numberFlag(args, 'seconds', 0.1, TIMER_SECONDS_MAX) : undefined
  const reportMs = numberFlag(args, 'report-seconds', 0.1, 3600, 10) * 1000
  const miner = new Miner({ url, user, password, threads, userAgent: 'kale-pool-mine/0.1' })
  const out = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`)
  miner.client.on('connected', () => out(`connected to ${url} (extranonce1 ${miner.client.extranonce1Hex})`))
  miner.client.on('disconnect', () => out('disconnected; reconnecting with backoff'))
  miner.client.on('difficulty', (d: number) => out(`difficulty ${d}`))
  miner.client.on('message', (m: string) => out(`pool says: ${m}`))
  miner.client.on('connectFailed', (err: Error, delayMs: number) => out(`cannot connect to ${url} (${err.message}); retrying in ${(delayMs / 1000).toFixed(1)} s`))
  await miner.start()
  out(`mining with ${threads} thread(s)`)
  let lastHashes = 0
  let lastMs = performance.now()
  const report = setInterval(() => {
    const h = miner.hashes
    const now = performance.now()
    const rate = ((h - lastHashes) / (now - lastMs)) * 1000
    lastHashes = h
    lastMs = now
    const s = miner.stats
    out(`hashrate ${(rate / 1e6).toFixed(2)} MH/s accepted ${s.accepted} rejected ${s.rejected}${s.dropped ? ` dropped ${s.dropped}` : ''}`)
  }, reportMs)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
    if (seconds !== undefined) setTimeout(resolve, seconds * 1000)
  })
  clearInterval(report)
  await miner.stop()
  const s = miner.stats
  out(`stopped: accepted ${s.accepted} rejected ${s.rejected}`)
  return 0
}
