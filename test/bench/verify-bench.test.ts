// The verify bench runs end to end and prints its figures (behaviour, not speed:
// figures are only checked to be present and sane). It once hung between rounds:
// a round could start with the previous round's shares still in the verifier,
// whose answers woke a callback nobody waited on.
import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { availableParallelism } from 'node:os'

const run = promisify(execFile)
const BENCH = new URL('../../dist-bench/bench/run.js', import.meta.url).pathname

describe('npm run bench -- verify', () => {
  it('prints one JSON line with the pool, raw and ceiling figures', async () => {
    const threads = availableParallelism()
    const { stdout } = await run(process.execPath, [BENCH, 'verify', '--threads', String(threads), '--seconds', '1.2', '--rounds', '4', '--warmup', '0.5', '--json'], { timeout: 60_000 })
    const r = JSON.parse(stdout.trim()) as Record<string, unknown>
    expect(r).toMatchObject({ bench: 'verify', threads, rounds: 4, warmupSeconds: 0.5 })
    for (const k of ['rawSingleThreadHashesPerSecond', 'poolSharesPerSecond', 'rawThreadsHashesPerSecond', 'rawNsPerHash', 'processCpuNsPerShare']) {
      expect(r[k], k).toBeGreaterThan(0)
    }
    for (const k of ['scalingEfficiency', 'machineScalingEfficiency', 'poolVsRawThreads']) expect(Number.isFinite(r[k]), k).toBe(true)
    expect(r.busyAnswers).toBeGreaterThanOrEqual(0)
    // Linux (CI): the collecting thread's CPU from /proc, and the bound it puts on the pool.
    if (process.platform === 'linux') {
      expect(r.collectingThreadCpuNsPerShare).toBeGreaterThan(0)
      expect(r.efficiencyBoundByCollecting).toBeGreaterThan(0)
      expect(r.efficiencyBoundByCollecting).toBeLessThan(1)
    }
  }, 90_000)

  it('gives no collecting-thread bound when the workers leave the collecting thread a core', async () => {
    const { stdout } = await run(process.execPath, [BENCH, 'verify', '--threads', '1', '--seconds', '0.6', '--rounds', '2', '--warmup', '0.5', '--json'], { timeout: 60_000 })
    const r = JSON.parse(stdout.trim()) as Record<string, unknown>
    expect(r.efficiencyBoundByCollecting === null).toBe(availableParallelism() > 1)
  }, 90_000)

  it('refuses a bad option with exit code 2 and a message naming it', async () => {
    for (const bad of [['--rounds', '0'], ['--threads', 'x'], ['--in-flight-max', '-1'], ['--warmup', '0']]) {
      const err = await run(process.execPath, [BENCH, 'verify', ...bad], { timeout: 30_000 }).then(() => undefined, (e: { code: number; stderr: string }) => e)
      expect(err?.code, bad.join(' ')).toBe(2)
      expect(err!.stderr).toMatch(new RegExp(`^bench verify: .*${bad[0]}`))
    }
  }, 40_000)
})
