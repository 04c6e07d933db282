// `npm run bench -- stratum [--connections N] [--duration S] [--warmup W] [--rate R] [--idle-sessions M] [--verify-threads T] [--batch-ms B] [--no-echo] [--json]`
//
// Besides latency it reports the server process's CPU per credited share and its
// event-loop delay during the load: on a machine shared with other work these say
// what the server itself costs, when the latency figures mostly say how busy the machine was.
//
// 1. load: a separate process (bench/stratum-load.ts) opens N miner connections at
//    fixed difficulty 1 (every nonce is a valid share) and submits shares one at a
//    time per connection: accepted shares/s and submit→answer latency, counted
//    after W seconds of the same load (default 2). Counted from the start, the
//    open-loop p99 at 20 000 shares/s was 70–160 ms (12 runs), nearly all of it shares of the
//    first 400 ms, while the server's code was still being compiled.
// 2. echo: the same load against a minimal newline-echo TCP server in this
//    process — the ceiling of a Node line server on this machine — as a ratio.
// 3. idle: M authorized sessions sitting idle: RSS per session; then a new block:
//    time until the last session received its mining.notify, against the same
//    line written straight to the same sockets (the floor) as a ratio.
import net from 'node:net'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import os from 'node:os'
import { randomBytes } from 'node:crypto'
import { StrKey } from '@stellar/stellar-sdk'
import { loadConfig } from '../src/config.js'
import { createMetrics } from '../src/metrics/metrics.js'
import { StratumServer } from '../src/stratum/server.js'
import { encodeNotify } from '../src/stratum/protocol.js'
import { Verifier } from '../src/workers/verifier.js'
import type { ShareEvent, BlockEvent } from '../src/events.js'
import { parseArgs, intFlag, numberFlag } from '../src/args.js'
import { report } from './stats.js'

const PAYOUT = StrKey.encodeEd25519PublicKey(Buffer.alloc(32, 9))
const LOAD_SCRIPT = fileURLToPath(new URL('./stratum-load.js', import.meta.url))

type Msg = { type: string; [k: string]: unknown }

function generator(mode: string, port: number, n: number, seconds: number, rate = 0): { child: ChildProcess; next: (type: string) => Promise<Msg> } {
  const child = fork(LOAD_SCRIPT, [mode, String(port), String(n), String(seconds)], { env: { ...process.env, BENCH_PAYOUT: PAYOUT, BENCH_RATE: String(rate) }, stdio: 'inherit' })
  const queue: Msg[] = []
  const waiters: (() => void)[] = []
  child.on('message', (m: Msg) => {
    queue.push(m)
    for (const w of waiters.splice(0)) w()
  })
  const next = async (type: string): Promise<Msg> => {
    const deadline = Date.now() + 120_000
    for (;;) {
      const i = queue.findIndex((m) => m.type === type || m.type === 'error')
      if (i >= 0) {
        const m = queue.splice(i, 1)[0]!
        if (m.type === 'error') throw new Error(`load generator: ${String(m.message)}`)
        return m
      }
      if (Date.now() > deadline) throw new Error(`load generator: no ${type} within 120 s`)
      await new Promise<void>((r) => {
        waiters.push(r)
        setTimeout(r, 1000)
      })
    }
  }
  return { child, next }
}

async function stop(g: { child: ChildProcess }): Promise<void> {
  const exited = new Promise((r) => g.child.once('exit', r))
  g.child.send({ type: 'exit' })
  await exited
}

function block(index: number): BlockEvent {
  return { index, entropy: randomBytes(32), timestamp: Math.floor(Date.now() / 1000), ledger: index, stats: { minGap: 0n, maxGap: 1n, minStake: 0n, maxStake: 0n, minZeros: 0n, maxZeros: 12n } }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const nowMs = () => performance.timeOrigin + performance.now()

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, ['connections', 'duration', 'warmup', 'idle-sessions', 'verify-threads', 'rate', 'batch-ms'], ['json', 'no-echo'])
  const connections = intFlag(args, 'connections', 1, 15_000, 1000)
  const duration = intFlag(args, 'duration', 1, 600, 10)
  const warmup = numberFlag(args, 'warmup', 0, 600, 2)
  const idleSessions = intFlag(args, 'idle-sessions', 0, 15_000, 10_000)
  const verifyThreads = intFlag(args, 'verify-threads', 1, 64, 1)
  const rate = intFlag(args, 'rate', 0, 10_000_000, 0)
  const c = loadConfig({})
  const batchMs = numberFlag(args, 'batch-ms', 0, 100, c.verifyBatchMs)
  const verifier = new Verifier({ threads: verifyThreads, batchMax: c.verifyBatchMax, batchMs, queueMax: c.verifyQueueMax, sharesInFlightMax: c.verifySharesInFlightMax, idleTimeoutMs: 60_000 })
  let credited = 0
  const sink = { add: (_s: ShareEvent) => (credited++, true) }
  const server = new StratumServer(
    { ...c, stratumHost: '127.0.0.1', stratumPort: 0, stratumTlsPort: undefined, difficultyMin: 1, difficultyStart: 1, connectionsPerIpMax: 1_000_000, sessionsMax: 1_000_000, banSharesMin: 1_000_000_000 },
    { verifier, shares: sink, metrics: createMetrics() },
  )
  const { port } = await server.listen()
  const farmers = Array.from({ length: 4 }, () => StrKey.encodeEd25519PublicKey(randomBytes(32)))
  let index = 1
  server.onBlock(block(index))
  server.onPlanted({ index, farmers })

  // 1. load against the pool
  const rss0 = process.memoryUsage().rss
  const g = generator('load', port, connections, duration, rate)
  await g.next('ready')
  const rssLoaded = process.memoryUsage().rss
  const loop = monitorEventLoopDelay({ resolution: 5 })
  // The generator loads the server for the warm-up first (compiled code, grown
  // buffers), then counts; this side starts its figures when it says so.
  g.child.send({ type: 'start', warmupSeconds: warmup })
  await g.next('measuring')
  const cpu0 = process.cpuUsage()
  const credited0 = credited
  loop.enable()
  const load = await g.next('result')
  loop.disable()
  const cpu = process.cpuUsage(cpu0)
  // Server-process CPU per credited share: the figure the machine's other load cannot move much.
  const cpuUsPerShare = (cpu.user + cpu.system) / Math.max(1, credited - credited0)
  const rssPeak = process.memoryUsage().rss
  await stop(g)

  // 2. the same load against a newline-echo server (the ceiling)
  let ceiling: Msg = { type: 'result', answersPerSecond: NaN, p99Ms: NaN }
  if (!args.flags.has('no-echo')) {
    const echo = net.createServer({ noDelay: true }, (s) => {
      let buf: Buffer = Buffer.alloc(0)
      s.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d
        const nl = buf.lastIndexOf(0x0a)
        if (nl < 0) return
        s.write(buf.subarray(0, nl + 1))
        buf = buf.subarray(nl + 1)
      })
      s.on('error', () => {})
    })
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()))
    const ePort = (echo.address() as net.AddressInfo).port
    const e = generator('echo', ePort, connections, duration)
    await e.next('ready')
    e.child.send({ type: 'start', warmupSeconds: warmup })
    ceiling = await e.next('result')
    await stop(e)
    await new Promise<void>((r) => echo.close(() => r()))
  }

  // 3. idle sessions and notify fan-out
  let idle: Record<string, unknown> = {}
  if (idleSessions > 0) {
    await sleep(500)
    const before = process.memoryUsage().rss
    // The login storm: every session subscribes and authorizes at once (as after a pool restart) until each has a job.
    const login0 = nowMs()
    const gi = generator('idle', port, idleSessions, 0)
    await gi.next('ready')
    const loginAllMs = nowMs() - login0
    await sleep(1000)
    const after = process.memoryUsage().rss
    gi.child.send({ type: 'expect-notify', count: 2 })
    await sleep(100)
    const t0 = nowMs()
    const c0 = process.cpuUsage()
    server.onBlock(block(++index))
    server.onPlanted({ index, farmers })
    const syncMs = nowMs() - t0
    const fanCpu = process.cpuUsage(c0)
    const done = await gi.next('notified')
    // The floor: a notify line written straight to the same sockets, no pool in
    // between (the newline-echo server's counterpart for the fan-out). On loopback
    // most of a write is waking the generator's process, which no server avoids.
    await sleep(300)
    gi.child.send({ type: 'expect-notify', count: 3 })
    await sleep(100)
    const sockets = [...server.stratifier.sessions].map((s) => s.socket)
    const line = encodeNotify('floor', index, '0'.repeat(64), '0'.repeat(64), farmers[0]!, false)
    const f0 = nowMs()
    for (const sock of sockets) sock.write(line)
    const floorSyncMs = nowMs() - f0
    const floor = await gi.next('notified')
    const notifyAllMs = (done.at as number) - t0
    const floorMs = (floor.at as number) - f0
    idle = {
      idleSessions, loginAllMs: Math.round(loginAllMs), rssPerIdleSessionKiB: Math.round((after - before) / idleSessions / 102.4) / 10,
      notifyAllMs: Math.round(notifyAllMs * 10) / 10, notifyWriteMs: Math.round(syncMs * 10) / 10, notifyCpuMs: Math.round((fanCpu.user + fanCpu.system) / 100) / 10,
      notifyFloorMs: Math.round(floorMs * 10) / 10, notifyFloorWriteMs: Math.round(floorSyncMs * 10) / 10, notifyVsFloor: Math.round((notifyAllMs / floorMs) * 100) / 100,
    }
    await stop(gi)
  }

  await server.close()
  await verifier.close()
  const num = (x: unknown) => Math.round((x as number) * 10) / 10
  report(argv, 'stratum', {
    connections, durationSeconds: duration, warmupSeconds: warmup, verifyThreads, batchMs, mode: rate > 0 ? `open loop at ${rate} shares/s` : 'closed loop (saturation)',
    ...(rate > 0 ? { offeredSharesPerSecond: Math.round(load.offeredPerSecond as number) } : {}),
    acceptedSharesPerSecond: Math.round(load.acceptedPerSecond as number), answersPerSecond: Math.round(load.answersPerSecond as number),
    rejected: load.errors, credited, serverCpuUsPerShare: num(cpuUsPerShare),
    loopDelayP99Ms: num(loop.percentile(99) / 1e6), loopDelayMaxMs: num(loop.max / 1e6),
    generatorLoopDelayP99Ms: num(load.loopDelayP99Ms), generatorLoopDelayMaxMs: num(load.loopDelayMaxMs), loadavg1: num(os.loadavg()[0]), p50Ms: num(load.p50Ms), p99Ms: num(load.p99Ms), maxMs: num(load.maxMs),
    echoLinesPerSecond: Math.round(ceiling.answersPerSecond as number), echoP99Ms: num(ceiling.p99Ms),
    // closed loop: throughput ratio; open loop: the echo figure is still its saturation ceiling
    ratioToEcho: Math.round(((load.acceptedPerSecond as number) / (ceiling.answersPerSecond as number)) * 1000) / 1000,
    rssPerLoadedSessionKiB: Math.round((rssLoaded - rss0) / connections / 102.4) / 10, rssPeakMiB: Math.round(rssPeak / 1048576),
    ...idle,
  })
}
