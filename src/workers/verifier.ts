// Share verification on a Piscina pool with micro-batching: shares arriving
// within `batchMs` (or `batchMax` of them) travel to a worker as one task and
// come back as one buffer of hashes — one message per batch instead of one per
// share, which is what lets the pool scale across cores.
//
// The collecting thread (the stratum server's) does as little per share as it
// can: it appends the nonce string to a rope, stores a template number and keeps
// the callback (in an array reused batch after batch). At seal the distinct
// templates, template numbers and the nonce digits (one native write of the
// rope) go into a slot: a buffer that is transferred to the worker, filled with
// the hashes there, transferred back and reused. The kernel decodes the digits
// and assembles the 76-byte preimages itself. (Decoding 16 hex digits per share
// here in JavaScript was this thread's largest cost, more than a third of it;
// why the slot is reused: verify-task.ts.)
//
// Bounded: at most threads + queueMax tasks outstanding plus one forming batch,
// and at most sharesInFlightMax shares taken and not yet answered. When either
// is full `verify()` returns false (the submit answers "busy" and the
// server pauses the socket); nothing queues without bound. Free slots and
// callback arrays kept: FREE_SLOTS_PER_SIZE_MAX of each slot size and
// FREE_CALLBACK_ARRAYS_MAX arrays.
import { Piscina } from 'piscina'
import { compiledWorkerFile } from './worker-file.js'
import { PREIMAGE_BYTES, HASH_BYTES, NONCE_HEX_CHARS, TEMPLATES_PER_BATCH_MAX, slotLayout, type VerifyTask } from './verify-task.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Logger } from '../log.js'
import { PoolError, ErrorCode } from '../errors.js'

export { TEMPLATES_PER_BATCH_MAX }

/**
 * Tasks handed to each worker ahead of the one it runs: the worker starts the next
 * batch without waiting for this thread to see the last answer (a round trip that
 * left workers idle half the time when this thread was busy). `npm run bench -- verify`
 * on 2 cores: 1 → 4 → 8 tasks per worker took 2.0 → 2.7 → 2.9 M shares/s (256-share batches).
 */
const TASKS_PER_WORKER_AHEAD = 8

/** Smallest slot, in shares: slots come in powers of two from here up to batchMax. */
const SLOT_SHARES_MIN = 64

/**
 * Nonces per rope at most (a power of two); each full rope is written to the
 * staging buffer. One rope per batch made batches of 8192 shares cost this thread
 * twice as much per share as 4096: its flat copy (128 KiB) is a large object to V8.
 */
const ROPE_SHARES_MAX = 1024

/** Free slots kept per size; more are left to the garbage collector. */
const FREE_SLOTS_PER_SIZE_MAX = 16

/** Free callback arrays (at most batchMax long each) kept. */
const FREE_CALLBACK_ARRAYS_MAX = 16

export interface VerifierOptions {
  threads: number
  batchMax: number
  batchMs: number
  queueMax: number
  /**
   * Shares taken and not yet answered, at most (unbounded when omitted). Tasks
   * alone bound nothing useful: under light load a task is a 1 ms batch of a few
   * shares, under saturation batchMax. With 64 tasks of 1024 shares in flight the
   * verify bench spent 10–20 % more CPU per share than with ~8 000 shares; with
   * batches of 8192, 8 batches in flight beat 4 by 2–3 % (workers wait less for
   * this thread to refill them).
   */
  sharesInFlightMax?: number
  idleTimeoutMs: number
  metrics?: Metrics
  /** Where a throwing `done` callback is reported (without one: rethrown, uncaught, after the batch is answered). */
  log?: Logger
}

/**
 * Called once per share: the batch's buffer and where this share's 32-byte hash
 * starts in it (`hashes.subarray(at, at + 32)`), or `undefined` and the error when
 * the task failed. An offset instead of a view per share: a view per share was a
 * third of this thread's garbage at a few million shares per second.
 * The buffer is valid during the callback only (it goes back to a worker with a
 * later batch): copy a hash that must live longer.
 */
export type VerifyDone = (hashes: Uint8Array | undefined, at: number, err?: unknown) => void

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
  count: number
  /** The count at which a rope is staged or the batch sealed (the next multiple of ROPE_SHARES_MAX, or batchMax). */
  stopAt: number
  templates: Uint8Array[]
  /** The template of the previous share and its number: consecutive shares mostly share a job. */
  lastTemplate: Uint8Array | undefined
  lastIndex: number
  /**
   * The nonces since the last staged rope, 16 hex digits each, concatenated as they
   * arrive: V8 keeps the pieces as a rope and flattens it once when it is written
   * (8–12 ns per nonce; an array joined at seal cost as much, a native write per
   * nonce 43 ns, charCodeAt into a buffer 24 ns).
   */
  digits: string
  dones: VerifyDone[]
  startedNs: bigint
}

/** A batch on its way to a worker: the forming batch's shares packed into a slot. */
interface Sealed {
  task: VerifyTask
  dones: VerifyDone[]
  startedNs: bigint
}

/** Slot capacity for a batch of `count` shares: a power of two ≥ SLOT_SHARES_MIN, at most `batchMax`. */
function slotCapacity(count: number, batchMax: number): number {
  let c = SLOT_SHARES_MIN
  while (c < count) c *= 2
  return Math.min(c, batchMax)
}

export class Verifier implements ShareVerifier {
  private readonly pool: Piscina<VerifyTask, ArrayBuffer>
  private forming: Batch | undefined
  /** Template numbers of the forming batch's shares (copied into its task at seal). */
  private readonly which: Uint8Array
  /** A sealed batch waiting for capacity. */
  private waiting: Sealed | undefined
  private outstanding = 0
  /** Shares taken (forming, waiting or dispatched) and not yet answered. */
  private sharesInFlight = 0
  private readonly sharesInFlightMax: number
  private timer: NodeJS.Timeout | undefined
  private readonly capacity: number
  /** Slots back from the workers and free, by capacity. */
  private readonly freeSlots = new Map<number, ArrayBuffer[]>()
  /** Callback arrays of answered batches, for the next batches. */
  private readonly freeDones: VerifyDone[][] = []
  private slotsCreated = 0
  /** Nonce digits of the forming batch's full ropes. */
  private readonly staging: Buffer
  private closed = false

  constructor(private readonly o: VerifierOptions) {
    this.capacity = o.threads + o.queueMax
    this.which = new Uint8Array(o.batchMax)
    this.staging = Buffer.allocUnsafe(NONCE_HEX_CHARS * o.batchMax)
    this.sharesInFlightMax = o.sharesInFlightMax ?? Number.POSITIVE_INFINITY
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

  /** Shares taken and not yet answered. */
  get sharesOutstanding(): number {
    return this.sharesInFlight
  }

  /** Slots made so far: with reuse, about the batches in flight at the busiest moment, not the batches sent. */
  get slotsMade(): number {
    return this.slotsCreated
  }

  verify(template: Uint8Array, nonceHex: string, done: VerifyDone): boolean {
    // The common case (a forming batch, the same job as the last share, room left)
    // in a few lines, small enough for the caller's optimized code to inline (the
    // whole method was not). Same-process A/B, 20 rounds: the collecting thread
    // 49 → 45 ns per share, shares/s ×1.014.
    const b = this.forming
    if (b !== undefined && b.lastTemplate === template && nonceHex.length === NONCE_HEX_CHARS && this.sharesInFlight < this.sharesInFlightMax) {
      this.add(b, b.lastIndex, nonceHex, done)
      return true
    }
    return this.verifyOther(template, nonceHex, done)
  }

  /** verify() for everything but the common case: a new batch, another job, full, closed, a bad nonce. */
  private verifyOther(template: Uint8Array, nonceHex: string, done: VerifyDone): boolean {
    if (this.closed || this.sharesInFlight >= this.sharesInFlightMax) return false
    // One wrong length would shift every later share's digits in the batch.
    if (nonceHex.length !== NONCE_HEX_CHARS) throw new PoolError(ErrorCode.ARGUMENT_INVALID, `nonce must be ${NONCE_HEX_CHARS} hex digits`)
    let b = this.forming
    if (!b) {
      if (this.waiting) return false
      b = {
        count: 0, stopAt: Math.min(ROPE_SHARES_MAX, this.o.batchMax), templates: [], lastTemplate: undefined, lastIndex: -1, digits: '',
        dones: this.freeDones.pop() ?? [], startedNs: process.hrtime.bigint(),
      }
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
    }
    b.lastTemplate = template
    b.lastIndex = t
    this.add(b, t, nonceHex, done)
    return true
  }

  /** Appends a share (template number `t`) to the forming batch. */
  private add(b: Batch, t: number, nonceHex: string, done: VerifyDone): void {
    const i = b.count
    this.which[i] = t
    b.dones[i] = done
    b.count = i + 1
    this.sharesInFlight++
    b.digits += nonceHex
    if (i + 1 === b.stopAt) this.atStop(b)
  }

  /** A full rope goes to the staging buffer (shallow ropes, small flat strings); a full batch is sealed. */
  private atStop(b: Batch): void {
    if ((b.count & (ROPE_SHARES_MAX - 1)) === 0) {
      this.staging.write(b.digits, NONCE_HEX_CHARS * (b.count - ROPE_SHARES_MAX), NONCE_HEX_CHARS * ROPE_SHARES_MAX, 'latin1')
      b.digits = ''
    }
    if (b.count >= this.o.batchMax) this.seal()
    else b.stopAt = Math.min(b.count + ROPE_SHARES_MAX, this.o.batchMax)
  }

  /** Promise form for callers off the hot path (tests, tools); undefined = busy. */
  hash(template: Uint8Array, nonce: bigint): Promise<Uint8Array> | undefined {
    let resolve!: (h: Uint8Array) => void
    let reject!: (e: unknown) => void
    const p = new Promise<Uint8Array>((res, rej) => {
      resolve = res
      reject = rej
    })
    const ok = this.verify(template, nonce.toString(16).padStart(16, '0'), (h, at, err) => (h ? resolve(h.slice(at, at + HASH_BYTES)) : reject(err)))
    return ok ? p : undefined
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
    const capacity = slotCapacity(b.count, this.o.batchMax)
    const at = slotLayout(capacity)
    const ab = this.freeSlots.get(capacity)?.pop() ?? this.newSlot(at.bytes)
    const buf = Buffer.from(ab)
    for (let t = 0; t < b.templates.length; t++) buf.set(b.templates[t]!.subarray(0, PREIMAGE_BYTES), t * PREIMAGE_BYTES)
    buf.set(this.which.subarray(0, b.count), at.whichAt)
    const staged = b.count & ~(ROPE_SHARES_MAX - 1)
    if (staged > 0) buf.set(this.staging.subarray(0, NONCE_HEX_CHARS * staged), at.digitsAt)
    if (b.count > staged) buf.write(b.digits, at.digitsAt + NONCE_HEX_CHARS * staged, NONCE_HEX_CHARS * (b.count - staged), 'latin1')
    const task: VerifyTask = { buf: ab, count: b.count, templates: b.templates.length, capacity }
    const sealed: Sealed = { task, dones: b.dones, startedNs: b.startedNs }
    if (this.outstanding >= this.capacity) this.waiting = sealed
    else this.dispatch(sealed)
  }

  private dispatch(b: Sealed): void {
    this.outstanding++
    const m = this.o.metrics
    m?.verifyBatchShares.observe(b.task.count)
    m?.verifySharesInFlight.set(this.sharesInFlight)
    // Transferred, not copied: this thread no longer owns the buffer.
    const task = this.pool.run(b.task, { transferList: [b.task.buf] })
    m?.verifyQueueDepth.set(this.pool.queueSize)
    task.then(
      (slot) => {
        this.done(b.task.count)
        m?.verifySeconds.observe(Number(process.hrtime.bigint() - b.startedNs) / 1e9)
        const all = new Uint8Array(slot)
        const dones = b.dones
        const hashesAt = slotLayout(b.task.capacity).hashesAt
        for (let i = 0; i < b.task.count; i++) {
          // One throwing callback must not leave the rest of the batch unanswered.
          try {
            dones[i]!(all, hashesAt + i * HASH_BYTES)
          } catch (err) {
            this.callbackThrew(err)
          }
        }
        this.freeDonesOf(dones, b.task.count)
        this.freeSlot(b.task.capacity, slot)
      },
      (err: unknown) => {
        this.done(b.task.count)
        this.fail(b.dones, b.task.count, err)
      },
    )
  }

  /** Keeps a batch's callback array (grown to its largest batch) for a later batch, its callbacks dropped. */
  private freeDonesOf(dones: VerifyDone[], count: number): void {
    if (this.freeDones.length >= FREE_CALLBACK_ARRAYS_MAX) return
    dones.fill(undefined as unknown as VerifyDone, 0, count)
    this.freeDones.push(dones)
  }

  private newSlot(bytes: number): ArrayBuffer {
    this.slotsCreated++
    return new ArrayBuffer(bytes)
  }

  /** Keeps an answered batch's slot for a later batch of its size. */
  private freeSlot(capacity: number, slot: ArrayBuffer): void {
    let free = this.freeSlots.get(capacity)
    if (!free) {
      free = []
      this.freeSlots.set(capacity, free)
    }
    if (free.length < FREE_SLOTS_PER_SIZE_MAX) free.push(slot)
  }

  /** Answers every share of `dones` with `err`. */
  private fail(dones: readonly VerifyDone[], count: number, err: unknown): void {
    for (let i = 0; i < count; i++) {
      try {
        dones[i]!(undefined, 0, err)
      } catch (e) {
        this.callbackThrew(e)
      }
    }
  }

  private callbackThrew(err: unknown): void {
    if (this.o.log) this.o.log.error({ err }, 'a share verification callback threw')
    else queueMicrotask(() => { throw err })
  }

  private done(shares: number): void {
    this.outstanding--
    this.sharesInFlight -= shares
    this.o.metrics?.verifyQueueDepth.set(this.pool.queueSize)
    this.o.metrics?.verifySharesInFlight.set(this.sharesInFlight)
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
    // Past the grace a batch still waiting for room is never sent: its shares are answered with an error.
    const w = this.waiting
    if (w) {
      this.waiting = undefined
      this.sharesInFlight -= w.task.count
      this.fail(w.dones, w.task.count, new PoolError(ErrorCode.BUSY, 'verifier closed'))
    }
    await this.pool.close()
  }
}
