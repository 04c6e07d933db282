// The miner's hashing engine: N worker threads running the WebAssembly mining
// kernel (src/kale/keccak-wasm.ts), each over a disjoint slice of the job's
// extranonce2 space.
//
//   const engine = await HashThreads.start({ threads: 2, onShare: (s) => submit(s) })
//   engine.setJob({ jobId, index, entropy, farmerKey, difficulty, extranonce1Hex })
//   engine.hashes          // total hashes done so far (for hashrate: sample it)
//   engine.idle()          // no work (pool lost): threads wait
//   await engine.stop()    // terminates the threads
//
//   await benchmark({ threads: 2, seconds: 5 }) → { hashesPerSecond, threads }
//
// A `JobNotice` of src/miner/client.ts is a valid HashJob. The nonce is
// extranonce1 (the pool's prefix, big-endian) || extranonce2 (8 − E1 bytes):
// thread t of N searches extranonce2 in [t·2^k/N, (t+1)·2^k/N) with k = 64 − 8·E1,
// so threads never overlap. setJob() reaches every thread within about one
// kernel chunk (~20 ms). onShare receives every nonce whose hash meets the job's
// difficulty, tagged with its jobId. A find a thread posted before it got the
// next setJob (or idle) is dropped: its job id may have been sent again with
// other work (another extranonce1 after a reconnect), and submitted under it the
// nonce is malformed or low (counted toward the pool's invalid-share ban). A job
// whose work (block, entropy, farmer key, extranonce1) a thread had before, under
// any job id, continues that thread's scan where it stopped, so no nonce is found
// twice (scan-memory.ts; cleanJobs forgets the works of other blocks).
//
// Workers run compiled JavaScript: from sources (vitest, tsx) the worker file is
// the dist/ twin of this file's directory, so build (`npm run build`) first.
import { Worker } from 'node:worker_threads'
import { randomBytes } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { PoolError, ErrorCode } from '../errors.js'
import { preimage, targetBytes } from '../kale/index.js'
import type { FromWorker, HashWorkerData, WorkerJob } from './hash-worker.js'

export interface HashJob {
  jobId: string
  index: number
  entropy: Uint8Array
  farmerKey: Uint8Array
  /** Share difficulty D ≥ 1: a hash is a share when ≤ floor((2^256 − 1) / D). */
  difficulty: number
  /** The pool's nonce prefix: 0..7 bytes as hex (empty = the whole 2^64 space). */
  extranonce1Hex: string
  /** A new block (mining.notify's cleanJobs): the scan positions of other blocks' work are forgotten. */
  cleanJobs?: boolean
}

export interface FoundShare {
  jobId: string
  nonce: bigint
  /** The nonce as the 16 hex digits mining.submit wants. */
  nonceHex: string
  hash: Uint8Array
}

export interface HashThreadsOptions {
  threads: number
  onShare: (share: FoundShare) => void
  /** A thread failed or exited unexpectedly (the engine keeps the others running). */
  onError?: (err: Error) => void
  /** Every thread finished its slice of the current job. */
  onExhausted?: (jobId: string) => void
}

export const THREADS_MAX = 256

/**
 * The compiled-JavaScript URL of a module next to `metaUrl`: the same URL when
 * running compiled code, the `dist/` twin (`.../src/x/y.ts` → `.../dist/x/y.js`)
 * when running from TypeScript sources.
 */
export function compiledSibling(metaUrl: string, file: string): URL {
  const url = new URL(file, metaUrl)
  if (!fileURLToPath(metaUrl).endsWith('.ts')) return url
  const p = fileURLToPath(url)
  const i = p.lastIndexOf('/src/')
  if (i < 0) throw new PoolError(ErrorCode.INTERNAL, `cannot map ${p} to its compiled file`)
  return pathToFileURL(`${p.slice(0, i)}/dist/${p.slice(i + 5).replace(/\.ts$/, '.js')}`)
}

/** Nonce range [start, end) of thread t of n under an extranonce1 prefix. */
export function threadRange(extranonce1: Uint8Array, t: number, n: number): { start: bigint; end: bigint } {
  const e2Bits = BigInt(64 - 8 * extranonce1.length)
  let prefix = 0n
  for (const b of extranonce1) prefix = (prefix << 8n) | BigInt(b)
  const base = prefix << e2Bits
  const span = 1n << e2Bits
  return { start: base + (span * BigInt(t)) / BigInt(n), end: base + (span * BigInt(t + 1)) / BigInt(n) }
}

function parseExtranonce1(hex: string): Uint8Array {
  if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2}){0,7}$/.test(hex)) {
    throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'extranonce1 must be 0..7 bytes of hex')
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

export class HashThreads {
  private readonly counters: BigInt64Array
  private gen = 0
  private jobId: string | undefined
  private exhausted = 0
  private stopped = false

  private constructor(
    private readonly workers: Worker[],
    shared: SharedArrayBuffer,
    private readonly opts: HashThreadsOptions,
  ) {
    this.counters = new BigInt64Array(shared)
    for (const w of workers) {
      w.on('message', (m: FromWorker) => this.onMessage(m))
      w.on('error', (err) => this.opts.onError?.(err))
      w.on('exit', (code) => {
        if (!this.stopped) this.opts.onError?.(new PoolError(ErrorCode.INTERNAL, `hash thread exited with code ${code}`))
      })
    }
  }

  /** Starts `threads` workers and waits until each is online. */
  static async start(opts: HashThreadsOptions): Promise<HashThreads> {
    if (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > THREADS_MAX) {
      throw new PoolError(ErrorCode.ARGUMENT_INVALID, `threads must be an integer 1..${THREADS_MAX}`)
    }
    const shared = new SharedArrayBuffer(8 * opts.threads)
    const url = compiledSibling(import.meta.url, './hash-worker.js')
    const workers = Array.from({ length: opts.threads }, (_, thread) => new Worker(url, { workerData: { thread, counters: shared } satisfies HashWorkerData }))
    try {
      await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
        w.once('online', resolve)
        w.once('error', reject)
      })))
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()))
      throw new PoolError(ErrorCode.INTERNAL, `hash threads failed to start: ${(err as Error).message}`, {}, { cause: err })
    }
    return new HashThreads(workers, shared, opts)
  }

  get threads(): number {
    return this.workers.length
  }

  /** Total hashes done by all threads since start. */
  get hashes(): number {
    let n = 0n
    for (let i = 0; i < this.counters.length; i++) n += Atomics.load(this.counters, i)
    return Number(n)
  }

  /** Replaces the work of every thread (validates the job first; throws PoolError on a bad one). */
  setJob(job: HashJob): void {
    if (this.stopped) throw new PoolError(ErrorCode.INTERNAL, 'hash threads are stopped')
    const e1 = parseExtranonce1(job.extranonce1Hex)
    const template = preimage(job.index, 0n, job.entropy, job.farmerKey)
    const target = targetBytes(job.difficulty)
    // The template is the work with nonce 0; with extranonce1 it fixes each thread's range.
    const workKey = `${Buffer.from(template.buffer, template.byteOffset, template.byteLength).toString('hex')}:${Buffer.from(e1).toString('hex')}`
    const clean = job.cleanJobs === true
    const gen = ++this.gen
    this.jobId = job.jobId
    this.exhausted = 0
    this.workers.forEach((w, t) => {
      const { start, end } = threadRange(e1, t, this.workers.length)
      w.postMessage({ type: 'job', gen, jobId: job.jobId, template, target, start, end, workKey, block: job.index, clean } satisfies WorkerJob)
    })
  }

  /** Stops hashing until the next setJob(). */
  idle(): void {
    this.gen++
    this.jobId = undefined
    for (const w of this.workers) w.postMessage({ type: 'idle' })
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await Promise.all(this.workers.map((w) => w.terminate()))
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'found') {
      // Posted before the thread got the current job (or idle): not the work now under this job id.
      if (m.gen !== this.gen) return
      this.opts.onShare({ jobId: m.jobId, nonce: m.nonce, nonceHex: m.nonce.toString(16).padStart(16, '0'), hash: m.hash })
      return
    }
    if (m.gen === this.gen && ++this.exhausted === this.workers.length) this.opts.onExhausted?.(m.jobId)
  }
}

export const BENCHMARK_WARMUP_MS = 500
const BENCHMARK_START_WAIT_MS = 10_000

/**
 * Offline hash rate of `threads` threads over `seconds` (after a short warm-up
 * that lets the JIT reach its optimising tier), on a random job no hash meets.
 */
export async function benchmark(opts: { threads: number; seconds: number }): Promise<{ hashesPerSecond: number; threads: number }> {
  if (!Number.isFinite(opts.seconds) || opts.seconds <= 0 || opts.seconds > 3600) {
    throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'seconds must be a number in (0, 3600]')
  }
  const errors: Error[] = []
  const engine = await HashThreads.start({ threads: opts.threads, onShare: () => {}, onError: (err) => errors.push(err) })
  try {
    engine.setJob({
      jobId: 'benchmark',
      index: 0,
      entropy: randomBytes(32),
      farmerKey: randomBytes(32),
      difficulty: 2 ** 64, // a share every 2^64 hashes: none in practice, so nothing but hashing
      extranonce1Hex: '',
    })
    await sleep(BENCHMARK_WARMUP_MS)
    // On a loaded machine the first chunks can take longer than the warm-up.
    for (let waited = 0; engine.hashes === 0 && waited < BENCHMARK_START_WAIT_MS; waited += 10) await sleep(10)
    const h0 = engine.hashes
    const t0 = performance.now()
    await sleep(opts.seconds * 1000)
    const hashes = engine.hashes - h0
    const seconds = (performance.now() - t0) / 1000
    if (errors.length > 0) throw errors[0]!
    return { hashesPerSecond: Math.round(hashes / seconds), threads: opts.threads }
  } finally {
    await engine.stop()
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
