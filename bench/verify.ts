// `npm run bench -- verify [--threads N] [--seconds S] [--rounds R] [--warmup W] [--batch-max B] [--queue-max Q] [--in-flight-max N] [--json]`
//
// Shares verified per second through the Piscina verifier (micro-batched,
// slots reused batch after batch) against the single-thread raw rate of the same batch
// kernel measured in the same run. scalingEfficiency = pool / (raw × threads),
// the median over R alternating rounds (S seconds in all, a third each for one
// raw thread, `threads` raw threads at once, and the pool). When the workers take
// every core, the collecting thread's own CPU per share comes off theirs:
// efficiencyBoundByCollecting = raw hash / (raw hash + collecting) is then the most
// the pool can reach on this machine, however cheap the messaging.
//
// Steady state, as a long-lived server runs: the pool runs W seconds before the
// first round (default 6). The raw loop is one function called in a tight loop and
// is fully compiled within milliseconds, but the pool's per-batch paths (Piscina's
// and the MessagePort's, run ~500 times a second) reach the optimizing compiler
// only after seconds. With a 1 s warm-up, compiling them took 0.06–0.08 of a core
// during the rounds, the collecting thread 51–53 ns per share; after 6 s, 0.02 and
// 44–45 ns, and the pool verified 3–8 % more shares per second (2 pairs of runs).
import { availableParallelism } from 'node:os'
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { loadConfig } from '../src/config.js'
import { parseArgs, intFlag, numberFlag } from '../src/args.js'
import { preimage } from '../src/kale/index.js'
import { Verifier } from '../src/workers/verifier.js'
import { rawRate, RawThreads } from './raw-threads.js'
import { report, median, percentile } from './stats.js'

/**
 * CPU time of this (the collecting) thread in ns, from /proc on Linux; undefined
 * elsewhere. Node 20 has no per-thread CPU clock, and process.cpuUsage() sums
 * the workers in.
 */
function mainThreadCpuNs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime (fields 14 and 15) in clock ticks of 10 ms.
    return (Number(f[11]) + Number(f[12])) * 1e7
  } catch {
    return undefined
  }
}

async function poolRate(v: Verifier, seconds: number): Promise<{ perSecond: number; busyAnswers: number; cpuNsPerShare: number; mainCpuNsPerShare: number | undefined }> {
  // Several jobs, as a server with many farmers has: batches carry a few templates.
  const templates = Array.from({ length: 4 }, () => preimage(7, 0n, randomBytes(32), randomBytes(32)))
  let offered = 0
  let answered = 0
  let done = 0
  let busy = 0
  // Precomputed nonces: the driver should cost the main thread as little as a socket would.
  // Flat strings, as JSON.parse gives the stratum: padStart's result is a rope of
  // two pieces, which made the verifier's own rope of nonces deeper and its
  // flattening dearer than a server's ever is (collecting 84 → 69 ns/share).
  const nonces = Array.from({ length: 4096 }, (_, i) => JSON.parse(`"${i.toString(16).padStart(16, '0')}"`) as string)
  let k = 0
  let wake: (() => void) | undefined
  let counting = false
  const inc = (h: Uint8Array | undefined) => {
    answered++
    if (h && counting) done++
    if (wake) {
      const w = wake
      wake = undefined
      w()
    }
  }
  // Offer shares as fast as the verifier takes them. On "busy" wait for the next
  // answer, as the server does by pausing the socket (spinning would take CPU
  // from the workers).
  const offer = async (until: () => boolean): Promise<void> => {
    while (!until()) {
      for (let i = 0; i < 1024; i++) {
        const n = k++
        if (!v.verify(templates[(n >> 6) & 3]!, nonces[n & 4095]!, inc)) {
          busy++
          await new Promise<void>((r) => (wake = r))
          break
        }
        offered++
      }
      await new Promise((r) => setImmediate(r))
    }
  }
  // Steady state only: the clock starts once the verifier is full (its first
  // "busy", or after a second with huge bounds), not while the pipeline fills from
  // empty, and stops counting answers when it stops (shares still in flight then
  // are not counted either way).
  const fillEnd = performance.now() + 1000
  await offer(() => busy > 0 || performance.now() >= fillEnd)
  counting = true
  busy = 0
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const main0 = mainThreadCpuNs()
  const end = t0 + seconds * 1000
  await offer(() => performance.now() >= end)
  const cpu = process.cpuUsage(cpu0)
  const main1 = mainThreadCpuNs()
  const elapsedS = (performance.now() - t0) / 1000
  counting = false
  // Drain: the next round starts with an empty verifier (and its own callback).
  while (answered < offered) await new Promise<void>((r) => (wake = r))
  // All threads of the process: the workers' hashing plus this thread's collecting and answering.
  const shares = Math.max(1, done)
  return {
    perSecond: done / elapsedS, busyAnswers: busy, cpuNsPerShare: ((cpu.user + cpu.system) * 1000) / shares,
    mainCpuNsPerShare: main0 === undefined || main1 === undefined ? undefined : (main1 - main0) / shares,
  }
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, ['threads', 'seconds', 'rounds', 'warmup', 'batch-max', 'queue-max', 'in-flight-max'], ['json'])
  const threads = intFlag(args, 'threads', 1, 256, availableParallelism())
  const seconds = numberFlag(args, 'seconds', 0.5, 600, 12)
  const rounds = intFlag(args, 'rounds', 1, 100, 8)
  const warmup = numberFlag(args, 'warmup', 0.1, 600, 6)
  const c = loadConfig({})
  const batchMax = intFlag(args, 'batch-max', 1, 65_536, c.verifyBatchMax)
  const queueMax = intFlag(args, 'queue-max', 1, 1_000_000, c.verifyQueueMax)
  const sharesInFlightMax = intFlag(args, 'in-flight-max', 1, 10_000_000, c.verifySharesInFlightMax)
  const v = new Verifier({ threads, batchMax, batchMs: c.verifyBatchMs, queueMax, sharesInFlightMax, idleTimeoutMs: 60_000 })
  const ceiling = new RawThreads(threads, batchMax)
  try {
    await poolRate(v, warmup) // threads started, the per-batch paths compiled (see the top)
    rawRate(0.5, batchMax)
    await ceiling.rate(0.5)
    // This machine's speed drifts by tens of percent within seconds (shared
    // hosts), so the three are measured in short alternating rounds and each
    // ratio is the median of the rounds' ratios, not a ratio of medians taken
    // seconds apart.
    const raws: number[] = []
    const ceilings: number[] = []
    const pools: number[] = []
    const vsRaw: number[] = []
    const machine: number[] = []
    const vsCeiling: number[] = []
    const cpus: number[] = []
    const mainCpus: number[] = []
    let busy = 0
    const each = seconds / rounds / 3
    for (let r = 0; r < rounds; r++) {
      const raw = rawRate(each, batchMax)
      const ceil = await ceiling.rate(each)
      const p = await poolRate(v, each)
      raws.push(raw)
      ceilings.push(ceil)
      pools.push(p.perSecond)
      vsRaw.push(p.perSecond / (raw * threads))
      machine.push(ceil / (raw * threads))
      vsCeiling.push(p.perSecond / ceil)
      cpus.push(p.cpuNsPerShare)
      if (p.mainCpuNsPerShare !== undefined) mainCpus.push(p.mainCpuNsPerShare)
      busy += p.busyAnswers
    }
    const raw = median(raws)
    const pool = median(pools)
    const r2 = (x: number) => Math.round(x * 100) / 100
    const r3 = (x: number) => Math.round(x * 1000) / 1000
    const mainCpu = mainCpus.length ? median(mainCpus) : undefined
    report(argv, 'verify', {
      threads, batchMax, batchMs: c.verifyBatchMs, queueMax, sharesInFlightMax, rounds, warmupSeconds: warmup,
      rawSingleThreadHashesPerSecond: Math.round(raw), poolSharesPerSecond: Math.round(pool),
      speedupVsOneThread: r2(pool / raw),
      // The goal's figure: pool / (threads × one raw thread).
      scalingEfficiency: r3(median(vsRaw)),
      scalingEfficiencyQuartiles: [r2(percentile(vsRaw, 25)), r2(percentile(vsRaw, 75))],
      // The same for `threads` raw threads hashing at once with no pool: what the machine itself gives.
      rawThreadsHashesPerSecond: Math.round(median(ceilings)),
      machineScalingEfficiency: r3(median(machine)),
      // The pool against that ceiling: what the pool's collecting, messaging and answering cost.
      poolVsRawThreads: r3(median(vsCeiling)),
      busyAnswers: busy,
      // Where the gap to threads × raw goes: CPU per verified share (every thread) against one raw hash.
      rawNsPerHash: Math.round(1e9 / raw), processCpuNsPerShare: Math.round(median(cpus)),
      // Of which the collecting thread's (verify() calls, sealing, answering); null off Linux.
      collectingThreadCpuNsPerShare: mainCpu === undefined ? null : Math.round(mainCpu),
      // When the collecting thread shares the cores with the workers, the most the
      // pool can reach even with free messaging and a full machine: a raw hash's
      // time over a raw hash plus the collecting thread's time per share.
      efficiencyBoundByCollecting: mainCpu === undefined || threads < availableParallelism() ? null : r3(1e9 / raw / (1e9 / raw + mainCpu)),
      cores: availableParallelism(),
    })
  } finally {
    await Promise.all([v.close(), ceiling.close()])
  }
}
