// Load generator for bench/stratum.ts, run as a separate process (fork) so its
// CPU is not the server's. Modes:
//   load: N connections, each subscribes + authorizes at a fixed difficulty, then
//         submits shares one at a time (next after the answer) for D seconds;
//         reports answers/s, accepted and latency percentiles. With BENCH_RATE
//         (shares/s over all connections) the load is open-loop instead: shares
//         go out round-robin at that rate whatever the answers, so latency is
//         measured at a given rate rather than at saturation (Little's law makes
//         a closed loop's latency connections / throughput).
//   echo: the same submit lines against a newline-echo server (every line back).
//   idle: N connections log in and stay idle; on "expect-notify" reports when the
//         last of them received a new mining.notify.
// Lean raw sockets on purpose: the generator must not be the bottleneck.
// "start" carries a warm-up in seconds: the load runs that long before anything is
// counted (a share counts when it was sent after the warm-up), and the generator
// says "measuring" when counting starts so the server side can start its own figures.
import net from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'

interface Conn {
  sock: net.Socket
  buf: string
  e1: string
  jobId: string
  nonce: number
  sentAt: number
  user: string
  notifies: number
  ready: boolean
  /** open-loop mode: send time per request id */
  sent: Map<number, number>
}

const [mode, portRaw, nRaw, secondsRaw] = process.argv.slice(2)
const port = Number(portRaw)
const n = Number(nRaw)
const seconds = Number(secondsRaw)
const PAYOUT = process.env.BENCH_PAYOUT ?? ''
const RATE = Number(process.env.BENCH_RATE ?? 0)
const TICK_MS = 2
const send = (m: unknown) => process.send?.(m)
const nowMs = () => performance.timeOrigin + performance.now()

const conns: Conn[] = []
let running = false
/** performance.now() from which sent shares are counted (Infinity during the warm-up). */
let countFrom = Number.POSITIVE_INFINITY
let answers = 0
let accepted = 0
let errors = 0
const lat: number[] = []
let lastNotifyAt = 0
let notified = 0
let expectNotifies = 0

function submit(c: Conn): void {
  c.nonce++
  const hex = c.e1 + c.nonce.toString(16).padStart(16 - c.e1.length, '0')
  c.sentAt = performance.now()
  if (RATE > 0) c.sent.set(c.nonce, c.sentAt)
  c.sock.write(`{"id":${c.nonce},"method":"mining.submit","params":["${c.user}","${c.jobId}","${hex}"]}\n`)
}

function onLine(c: Conn, line: string): void {
  if (mode === 'echo') return onAnswer(c, true)
  if (!c.ready) return login(c, line)
  if (line.includes('"mining.notify"')) {
    c.notifies++
    if (c.notifies === expectNotifies) {
      notified++
      lastNotifyAt = nowMs()
      if (notified === conns.length) send({ type: 'notified', at: lastNotifyAt })
    }
    return
  }
  if (line.includes('"method"')) return
  if (RATE > 0) return onRatedAnswer(c, line)
  onAnswer(c, line.includes('"result":true'))
}

function onRatedAnswer(c: Conn, line: string): void {
  const id = Number(/"id":(\d+)/.exec(line)?.[1])
  const at = c.sent.get(id)
  if (at === undefined) return
  c.sent.delete(id)
  if (!running || at < countFrom) return
  answers++
  if (line.includes('"result":true')) accepted++
  else errors++
  lat.push(performance.now() - at)
}

function onAnswer(c: Conn, ok: boolean): void {
  if (!running) return
  if (c.sentAt >= countFrom) {
    answers++
    if (ok) accepted++
    else errors++
    lat.push(performance.now() - c.sentAt)
  }
  submit(c)
}

function login(c: Conn, line: string): void {
  const m = JSON.parse(line) as { id?: unknown; result?: unknown; method?: string; params?: unknown[] }
  if (m.id === 's') c.e1 = (m.result as [string, string])[1]
  if (m.method === 'mining.notify') {
    c.jobId = String(m.params![0])
    c.notifies = 1
    c.ready = true
    readyCount++
    if (readyCount === n) send({ type: 'ready' })
  }
}

let readyCount = 0

function open(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' }, () => resolve())
    sock.setNoDelay(true)
    sock.setEncoding('utf8')
    const c: Conn = { sock, buf: '', e1: '', jobId: '', nonce: 0, sentAt: 0, user: `${PAYOUT}.w${i}`, notifies: 0, ready: mode === 'echo', sent: new Map() }
    conns.push(c)
    sock.on('data', (d: string) => {
      c.buf += d
      let nl: number
      while ((nl = c.buf.indexOf('\n')) >= 0) {
        const line = c.buf.slice(0, nl)
        c.buf = c.buf.slice(nl + 1)
        onLine(c, line)
      }
    })
    sock.on('error', reject)
    sock.on('close', () => send({ type: 'closed' }))
    if (mode !== 'echo') sock.write(`{"id":"s","method":"mining.subscribe","params":["bench"]}\n{"id":"a","method":"mining.authorize","params":["${PAYOUT}.w${i}","d=1"]}\n`)
  })
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1))]!
}

async function main(): Promise<void> {
  // Connect in bounded waves: a 10 000-connection SYN burst overflows backlogs.
  for (let i = 0; i < n; i += 500) await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, k) => open(i + k)))
  if (mode === 'echo') send({ type: 'ready' })
  process.on('message', (msg: { type: string; count?: number; warmupSeconds?: number }) => {
    if (msg.type === 'start') {
      running = true
      // This process's own event-loop delay: an answer read late here counts as latency too.
      const loop = monitorEventLoopDelay({ resolution: 5 })
      const tLoad = performance.now()
      let offered = 0
      let offeredBefore = 0
      let t0 = 0
      let ticker: NodeJS.Timeout | undefined
      if (RATE > 0 && mode === 'load') {
        // Open loop: keep the offered count at RATE × elapsed, round-robin over connections.
        ticker = setInterval(() => {
          const due = Math.floor((RATE * (performance.now() - tLoad)) / 1000)
          while (offered < due) submit(conns[offered++ % conns.length]!)
        }, TICK_MS)
      } else for (const c of conns) submit(c)
      const measure = (): void => {
        t0 = performance.now()
        countFrom = t0
        offeredBefore = offered
        loop.enable()
        send({ type: 'measuring' })
        setTimeout(report, seconds * 1000)
      }
      const report = (): void => {
        if (ticker) clearInterval(ticker)
        running = false
        const elapsed = (performance.now() - t0) / 1000
        loop.disable()
        lat.sort((a, b) => a - b)
        send({
          type: 'result', offeredPerSecond: RATE > 0 ? (offered - offeredBefore) / elapsed : null, answersPerSecond: answers / elapsed, acceptedPerSecond: accepted / elapsed, errors,
          p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), maxMs: lat.at(-1) ?? NaN, loopDelayP99Ms: loop.percentile(99) / 1e6, loopDelayMaxMs: loop.max / 1e6,
        })
      }
      setTimeout(measure, (msg.warmupSeconds ?? 0) * 1000)
    } else if (msg.type === 'expect-notify') {
      expectNotifies = msg.count ?? 2
      notified = 0
    } else if (msg.type === 'exit') {
      for (const c of conns) c.sock.destroy()
      process.exit(0)
    }
  })
}

main().catch((err: unknown) => {
  send({ type: 'error', message: String(err) })
  process.exit(1)
})
