// Share verification on a Piscina pool with micro-batching: shares arriving
// within `batchMs` (or `batchMax` of them) travel to a worker as one buffer and
// come back as one buffer of hashes — one message per batch instead of one per
// share, which is what lets the pool scale across cores.
//
// The collecting thread (the stratum server's) does as little per share as it
// can: a batch holds each distinct job template once and 9 bytes per share (the
// nonce and which template); the worker assembles the 76-byte preimages.
//
// Bounded: at most threads + queueMax tasks outstanding plus one forming batch.
// When that is full `verify()` returns false (the submit answers "busy" and the
// server pauses the socket); nothing queues without bound.
import { Piscina } from 'piscina'
import { compiledWorkerFile } from './worker-file.js'
import { PREIMAGE_BYTES, HASH_BYTES, NONCE_BYTES, batchLayout, type VerifyTask } from './verify-task.js'
import type { Metrics } from '../metrics/metrics.js'

/** Distinct job templates in one batch at most; a share for another template seals the batch. */
export const TEMPLATES_PER_BATCH_MAX = 32

/**
 * Tasks handed to each worker ahead of the one it runs: the worker starts the next
 * batch without waiting for this thread to see the last answer (a round trip that
 * left workers idle half the time when this thread was busy). `npm run bench -- verify`
 * on 2 cores: 1 → 4 → 8 tasks per worker took 2.0 → 2.7 → 2.9 M shares/s (256-share batches).
 */
const TASKS_PER_WORKER_AHEAD = 8

/**
 * Room of a new batch, in shares. Batches start small and double as they fill:
 * at a few thousand shares/s a 1 ms batch holds a handful, and allocating
 * batchMax-sized buffers ~1000 times a second doubled the stratum bench's p99
 * (garbage collection of 32 KiB ArrayBuffers).
 */
const FIRST_CAPACITY_SHARES = 64

/** An uninitialised buffer that owns its ArrayBuffer (not a slice of Node's pool), so it can be transferred. */
const transferable = (bytes: number): Uint8Array => Buffer.allocUnsafeSlow(bytes)

/** Hex digit values by character code (0–9, a–f, A–F); the nonce is validated before it gets here. */
const HEX_VALUE = new Uint8Array(128)
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i
for (let i = 0; i < 6; i++) HEX_VALUE[97 + i] = HEX_VALUE[65 + i] = 10 + i

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
 * What the stratum server needs. `verify` adds the share — the job's 76-byte
 * template (treated as immutable: it is copied once per batch, by identity) and
 * the nonce (16 hex digits, already validated) — to the forming batch and returns
 * true, or returns false at once when the verifier is full (the share is "busy").
 * `done` is always called later, never from inside `verify`.
 * A callback instead of a Promise per share: at hundreds of thousands of shares
 * per second the Promise and its closure were the main thread's largest cost.
 */
export interface ShareVerifier {
  verify(template: Uint8Array, nonceHex: string, done: VerifyDone): boolean
}

interface Batch {
  bytes: Uint8Array
  /** Shares `bytes` has room for; doubles up to batchMax as the batch fills. */
  capacity: number
  noncesAt: number
  whichAt: number
  count: number
  templates: Uint8Array[]
  /** The template of the previous share and its number: consecutive shares mostly share a job. */
  lastTemplate: Uint8Array | undefined
  lastIndex: number
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
      // Tasks are synchronous, so a worker still runs one at a time; the others wait in its port.
      concurrentTasksPerWorker: TASKS_PER_WORKER_AHEAD,
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
    let t = b.lastTemplate === template ? b.lastIndex : b.templates.indexOf(template)
    if (t < 0) {
      if (b.templates.length >= TEMPLATES_PER_BATCH_MAX) {
        this.seal()
        return this.verify(template, nonceHex, done)
      }
      t = b.templates.length
      b.templates.push(template)
      b.bytes.set(template.subarray(0, PREIMAGE_BYTES), t * PREIMAGE_BYTES)
    }
    b.lastTemplate = template
    b.lastIndex = t
    if (b.count === b.capacity) this.grow(b)
    const bytes = b.bytes
    const at = b.noncesAt + b.count * NONCE_BYTES
    for (let j = 0; j < NONCE_BYTES; j++) bytes[at + j] = (HEX_VALUE[nonceHex.charCodeAt(2 * j)]! << 4) | HEX_VALUE[nonceHex.charCodeAt(2 * j + 1)]!
    bytes[b.whichAt + b.count] = t
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
    const capacity = Math.min(this.o.batchMax, FIRST_CAPACITY_SHARES)
    const { noncesAt, whichAt, bytes } = batchLayout(capacity, TEMPLATES_PER_BATCH_MAX)
    return { bytes: transferable(bytes), capacity, noncesAt, whichAt, count: 0, templates: [], lastTemplate: undefined, lastIndex: -1, dones: [], startedNs: process.hrtime.bigint() }
  }

  /** Doubles the batch's room (up to batchMax), keeping what it holds. */
  private grow(b: Batch): void {
    const capacity = Math.min(this.o.batchMax, b.capacity * 2)
    const { noncesAt, whichAt, bytes } = batchLayout(capacity, TEMPLATES_PER_BATCH_MAX)
    const next = transferable(bytes)
    next.set(b.bytes.subarray(0, b.templates.length * PREIMAGE_BYTES), 0)
    next.set(b.bytes.subarray(b.noncesAt, b.noncesAt + b.count * NONCE_BYTES), noncesAt)
    next.set(b.bytes.subarray(b.whichAt, b.whichAt + b.count), whichAt)
    Object.assign(b, { bytes: next, capacity, noncesAt, whichAt })
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
    const buf = b.bytes.buffer as ArrayBuffer
    const t: VerifyTask = { buf, count: b.count, templates: b.templates.length, noncesAt: b.noncesAt, whichAt: b.whichAt }
    const task = this.pool.run(t, { transferList: [buf] })
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
