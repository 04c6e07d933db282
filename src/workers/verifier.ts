// Share verification on a Piscina pool with micro-batching: shares arriving
// within `batchMs` (or `batchMax` of them) travel to a worker as one buffer of
// preimages and come back as one buffer of hashes — one message per batch instead
// of one per share, which is what lets the pool scale across cores.
//
// Bounded: at most threads + queueMax tasks outstanding plus one forming batch.
// When that is full `verify()` returns undefined (the submit answers "busy" and
// the server pauses the socket); nothing queues without bound.
import { Piscina } from 'piscina'
import { compiledWorkerFile } from './worker-file.js'
import { PREIMAGE_BYTES, HASH_BYTES, type VerifyTask } from './verify-task.js'
import type { Metrics } from '../metrics/metrics.js'

export interface VerifierOptions {
  threads: number
  batchMax: number
  batchMs: number
  queueMax: number
  idleTimeoutMs: number
  metrics?: Metrics
}

/** Called once per share: the 32-byte hash, or `undefined` and the error when the task failed. */
export type VerifyDone = (hash: Uint8Array | undefined, err?: unknown) => void

/**
 * What the stratum server needs. `verify` copies the 76-byte template with the
 * nonce (16 hex digits, already validated) into the forming batch and returns
 * true, or returns false at once when the verifier is full (the share is "busy").
 * `done` is always called later, never from inside `verify`.
 * A callback instead of a Promise per share: at hundreds of thousands of shares
 * per second the Promise and its closure were the main thread's largest cost.
 */
export interface ShareVerifier {
  verify(template: Uint8Array, nonceHex: string, done: VerifyDone): boolean
}

interface Batch {
  buf: Buffer
  count: number
  dones: VerifyDone[]
  startedNs: bigint
}

export class Verifier implements ShareVerifier {
  private readonly pool: Piscina<VerifyTask, ArrayBuffer>
  private forming: Batch | undefined
  /** A full batch waiting for capacity. */
  private waiting: Batch | undefined
  private outstanding = 0
  private timer: NodeJS.Timeout | undefined
  private readonly capacity: number
  private closed = false

  constructor(private readonly o: VerifierOptions) {
    this.capacity = o.threads + o.queueMax
    this.pool = new Piscina({
      filename: compiledWorkerFile(import.meta.url, 'verify-task'),
      minThreads: o.threads,
      maxThreads: o.threads,
      idleTimeout: o.idleTimeoutMs,
      maxQueue: o.queueMax,
      // Each task is a CPU-bound batch: one at a time per thread.
      concurrentTasksPerWorker: 1,
    })
  }

  /** Tasks dispatched and not finished. */
  get tasksOutstanding(): number {
    return this.outstanding
  }

  verify(template: Uint8Array, nonceHex: string, done: VerifyDone): boolean {
    if (this.closed) return false
    let b = this.forming
    if (!b) {
      if (this.waiting) return false
      b = this.newBatch()
      this.forming = b
      this.arm()
    }
    const at = b.count * PREIMAGE_BYTES
    b.buf.set(template, at)
    b.buf.write(nonceHex, at + 4, 8, 'hex')
    b.count++
    b.dones.push(done)
    if (b.count >= this.o.batchMax) this.seal()
    return true
  }

  /** Promise form for callers off the hot path (tests, tools); undefined = busy. */
  hash(template: Uint8Array, nonce: bigint): Promise<Uint8Array> | undefined {
    let resolve!: (h: Uint8Array) => void
    let reject!: (e: unknown) => void
    const p = new Promise<Uint8Array>((res, rej) => {
      resolve = res
      reject = rej
    })
    const ok = this.verify(template, nonce.toString(16).padStart(16, '0'), (h, err) => (h ? resolve(h) : reject(err)))
    return ok ? p : undefined
  }

  private newBatch(): Batch {
    // allocUnsafeSlow: a Buffer that owns its ArrayBuffer (not a slice of the shared pool), so it can be transferred.
    return { buf: Buffer.allocUnsafeSlow(this.o.batchMax * PREIMAGE_BYTES), count: 0, dones: [], startedNs: process.hrtime.bigint() }
  }

  private arm(): void {
    // One timer per forming batch, not per share.
    if (this.o.batchMs <= 0) setImmediate(() => this.seal())
    else this.timer = setTimeout(() => this.seal(), this.o.batchMs)
  }

  private seal(): void {
    const b = this.forming
    if (!b || b.count === 0) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.forming = undefined
    if (this.outstanding >= this.capacity) this.waiting = b
    else this.dispatch(b)
  }

  private dispatch(b: Batch): void {
    this.outstanding++
    const m = this.o.metrics
    m?.verifyBatchShares.observe(b.count)
    // Transferred, not copied: this thread no longer owns the buffer.
    const preimages = b.buf.buffer as ArrayBuffer
    const task = this.pool.run({ preimages, count: b.count }, { transferList: [preimages] })
    m?.verifyQueueDepth.set(this.pool.queueSize)
    task.then(
      (hashes) => {
        this.done()
        m?.verifySeconds.observe(Number(process.hrtime.bigint() - b.startedNs) / 1e9)
        const all = new Uint8Array(hashes)
        for (let i = 0; i < b.count; i++) b.dones[i]!(all.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES))
      },
      (err: unknown) => {
        this.done()
        for (const d of b.dones) d(undefined, err)
      },
    )
  }

  private done(): void {
    this.outstanding--
    this.o.metrics?.verifyQueueDepth.set(this.pool.queueSize)
    const w = this.waiting
    if (w && this.outstanding < this.capacity) {
      this.waiting = undefined
      this.dispatch(w)
    }
  }

  /** Stops taking shares, lets batches in flight finish (bounded by `graceMs`), then ends the threads. */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true
    this.seal()
    const end = Date.now() + graceMs
    while ((this.outstanding > 0 || this.waiting) && Date.now() < end) await new Promise((r) => setTimeout(r, 5))
    await this.pool.close()
  }
}
