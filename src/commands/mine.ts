// `kale-pool mine --url stratum+tcp://HOST:PORT --user ADDR[.worker] [--password P] [--threads N] [--seconds S]`
// `kale-pool mine --benchmark [--threads N] [--seconds S]` → one JSON line {"hashesPerSecond", "threads"}
// Mining prints hashrate and accepted/rejected/lost shares every 10 s (--report-seconds).
// It runs until SIGINT/SIGTERM or --seconds (counted from the start, connected or
// not) and exits 0; when the pool refuses --user (error 24) it exits 2.
import { availableParallelism } from 'node:os'
import { parseArgs, stringFlag, intFlag, numberFlag, argError } from '../args.js'
import { benchmark } from '../miner/hash-threads.js'
import { Miner } from '../miner/miner.js'
import { parseStratumUrl, usernameError } from '../miner/client.js'

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
  const bad = usernameError(user)
  if (bad !== undefined) throw argError(`--user ${bad}`)
  const password = stringFlag(args, 'password', '')
  const seconds = args.flags.has('seconds') ? numberFlag(args, 'seconds', 0.1, TIMER_SECONDS_MAX) : undefined
  const reportMs = numberFlag(args, 'report-seconds', 0.1, 3600, 10) * 1000
  const miner = new Miner({ url, user, password, threads, userAgent: 'kale-pool-mine/0.1' })
  const out = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`)
  // The URL actually connected to: a client.reconnect may have moved the miner off --url.
  miner.client.on('connected', () => out(`connected to ${miner.client.url} (extranonce1 ${miner.client.extranonce1Hex})`))
  miner.client.on('disconnect', (reason: string, delayMs: number | undefined) => out(`disconnected (${reason})${delayMs === undefined ? '' : `; reconnecting in ${(delayMs / 1000).toFixed(1)} s`}`))
  miner.client.on('difficulty', (d: number) => out(`difficulty ${d}`))
  miner.client.on('message', (m: string) => out(`pool says: ${m}`))
  miner.client.on('protocolError', (reason: string) => out(`pool protocol error: ${reason}`))
  miner.client.on('minerError', (err: Error) => out(`miner error: ${err.message}`))
  miner.client.on('connectFailed', (err: Error, delayMs: number, failed: string) => {
    const next = miner.client.url
    out(`cannot connect to ${failed} (${err.message}); retrying ${next === failed ? '' : `at ${next} `}in ${(delayMs / 1000).toFixed(1)} s`)
  })
  // Armed before connecting: a miner whose pool never answers still ends.
  const end = endOn(seconds)
  miner.client.on('fatal', (err: Error) => end.now(err))
  let report: NodeJS.Timeout | undefined
  miner.start().then(() => {
    if (end.ended) return
    out(`mining with ${threads} thread(s)`)
    report = reporter(miner, reportMs, out)
  }, (err: Error) => end.now(err))
  const failure = await end.promise
  end.dispose()
  clearInterval(report)
  await miner.stop()
  const s = miner.stats
  out(`stopped: accepted ${s.accepted} rejected ${s.rejected} lost ${s.lost}`)
  if (failure) throw failure
  return 0
}

function reporter(miner: Miner, reportMs: number, out: (line: string) => void): NodeJS.Timeout {
  let lastHashes = 0
  let lastMs = performance.now()
  return setInterval(() => {
    const h = miner.hashes
    const now = performance.now()
    const rate = ((h - lastHashes) / (now - lastMs)) * 1000
    lastHashes = h
    lastMs = now
    const s = miner.stats
    out(`hashrate ${(rate / 1e6).toFixed(2)} MH/s accepted ${s.accepted} rejected ${s.rejected} lost ${s.lost}${s.dropped ? ` dropped ${s.dropped}` : ''}`)
  }, reportMs)
}

/**
 * Resolves on SIGINT, SIGTERM, after `seconds`, or at now(err) (with err). dispose()
 * removes the signal listeners and the timer, which would otherwise keep the
 * process alive (the timer) or pile up (listeners of repeated runs).
 */
function endOn(seconds: number | undefined) {
  let settle!: (err: Error | undefined) => void
  const promise = new Promise<Error | undefined>((resolve) => {
    settle = resolve
  })
  const end = {
    promise,
    ended: false,
    now(err?: Error): void {
      if (end.ended) return
      end.ended = true
      settle(err)
    },
    dispose(): void {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      clearTimeout(timer)
    },
  }
  const onSignal = (): void => end.now()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const timer = seconds === undefined ? undefined : setTimeout(() => end.now(), seconds * 1000)
  return end
}
