// `npm run bench -- verify [--threads N] [--seconds S] [--batch-max B] [--json]`
//
// Shares verified per second through the Piscina verifier (micro-batched,
// transferable buffers) against the single-thread raw rate of the same batch
// kernel measured in the same run. scalingEfficiency = pool / (raw × threads).
import { availableParallelism } from 'node:os'
import { randomBytes } from 'node:crypto'
import { loadConfig } from '../src/config.js'
import { parseArgs, intFlag, numberFlag } from '../src/args.js'
import { preimage } from '../src/kale/index.js'
import { Verifier } from '../src/workers/verifier.js'
import { keccak256Batch76, PREIMAGE_BYTES, HASH_BYTES } from '../src/kale/index.js'
import { report, median } from './stats.js'

function rawRate(seconds: number, batch: number): number {
  const pre = new Uint8Array(batch * PREIMAGE_BYTES)
  for (let i = 0; i < batch; i++) pre.set(preimage(7, BigInt(i), randomBytes(32), randomBytes(32)), i * PREIMAGE_BYTES)
  const out = new Uint8Array(batch * HASH_BYTES)
  let n = 0
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  while (performance.now() < end) {
    keccak256Batch76(pre, batch, out)
    n += batch
  }
  return n / ((performance.now() - t0) / 1000)
}

async function poolRate(v: Verifier, seconds: number): Promise<{ perSecond: number; busyAnswers: number; cpuNsPerShare: number }> {
  // Several jobs, as a server with many farmers has: batches carry a few templates.
  const templates = Array.from({ length: 4 }, () => preimage(7, 0n, randomBytes(32), randomBytes(32)))
  let done = 0
  let busy = 0
  // Precomputed nonces: the driver should cost the main thread as little as a socket would.
  const nonces = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(16, '0'))
  let k = 0
  let wake: (() => void) | undefined
  const inc = (h: Uint8Array | undefined) => {
    if (h) done++
    if (wake) {
      const w = wake
      wake = undefined
      w()
    }
  }
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const end = t0 + seconds * 1000
  // Offer shares as fast as the verifier takes them. On "busy" wait for the next
  // answer, as the server does by pausing the socket (spinning would take CPU
  // from the workers).
  while (performance.now() < end) {
    for (let i = 0; i < 1024; i++) {
      const n = k++
      if (!v.verify(templates[(n >> 6) & 3]!, nonces[n & 4095]!, inc)) {
        busy++
        await new Promise<void>((r) => (wake = r))
        break
      }
    }
    await new Promise((r) => setImmediate(r))
  }
  const cpu = process.cpuUsage(cpu0)
  // All threads of the process: the workers' hashing plus this thread's collecting and answering.
  return { perSecond: done / ((performance.now() - t0) / 1000), busyAnswers: busy, cpuNsPerShare: ((cpu.user + cpu.system) * 1000) / Math.max(1, done) }
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, ['threads', 'seconds', 'batch-max'], ['json'])
  const threads = intFlag(args, 'threads', 1, 256, availableParallelism())
  const seconds = numberFlag(args, 'seconds', 0.5, 600, 3)
  const c = loadConfig({})
  const batchMax = intFlag(args, 'batch-max', 1, 65_536, c.verifyBatchMax)
  const v = new Verifier({ threads, batchMax, batchMs: c.verifyBatchMs, queueMax: c.verifyQueueMax, idleTimeoutMs: 60_000 })
  try {
    await poolRate(v, 0.5) // warm-up: threads started, JIT tiers reached
    rawRate(0.5, batchMax)
    // Alternate the two measurements (3 rounds each) and take medians.
    const raws: number[] = []
    const pools: number[] = []
    const cpus: number[] = []
    let busy = 0
    for (let r = 0; r < 3; r++) {
      raws.push(rawRate(seconds / 3, batchMax))
      const p = await poolRate(v, seconds / 3)
      pools.push(p.perSecond)
      cpus.push(p.cpuNsPerShare)
      busy += p.busyAnswers
    }
    const raw = median(raws)
    const pool = median(pools)
    report(argv, 'verify', {
      threads, batchMax, batchMs: c.verifyBatchMs,
      rawSingleThreadHashesPerSecond: Math.round(raw), poolSharesPerSecond: Math.round(pool),
      speedupVsOneThread: Math.round((pool / raw) * 100) / 100, scalingEfficiency: Math.round((pool / (raw * threads)) * 1000) / 1000,
      busyAnswers: busy,
      // Where the gap to threads × raw goes: CPU per verified share (every thread) against one raw hash.
      rawNsPerHash: Math.round(1e9 / raw), processCpuNsPerShare: Math.round(median(cpus)), cores: availableParallelism(),
    })
  } finally {
    await v.close()
  }
}
