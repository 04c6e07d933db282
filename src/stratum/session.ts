// One miner connection's state. Plain data plus the small pure helpers that read
// it; the socket is owned by the server, which is the only code that writes to it.
import type { Socket } from 'node:net'
import type { Logger } from '../log.js'
import { LineFramer, type NextLine } from './framing.js'
import type { Job, Work } from './jobs.js'
import { vardiffStart, type VardiffState } from './vardiff.js'
import { creditedStart, type CreditedRate } from './distribution.js'
import { decodeStrKey, VersionByte } from '../kale/index.js'
import { WORKER_RE, type RequestId } from './protocol.js'

/** The form of every job id (JobBook: a counter from 1 in lower-case hex, below 2^52). */
const JOB_ID_RE = /^[1-9a-f][0-9a-f]{0,12}$/
/** Jobs one session remembers; older ones answer "Job not found". */
export const SESSION_JOBS_MAX = 8
/**
 * Judged nonces one session remembers per block (bounded duplicate memory). Past
 * it the session's shares are answered "share limit" (not credited, not invalid)
 * until the next block — never by forgetting nonces, which would let them be
 * credited again.
 */
export const SESSION_NONCES_PER_BLOCK_MAX = 65_536

/** A job as one session received it: the difficulty in force when it was sent is frozen here. */
export interface HeldJob {
  job: Job
  difficulty: number
  target: Uint8Array
}

/** What survives a dropped connection for RESUME_MS (extranonce1 is kept by the allocator). */
export interface SessionCarry {
  jobs: Map<string, HeldJob>
  seen: Map<Work, Map<string, string>>
  inherited: Map<Work, Map<string, string>> | undefined
  lastJobSeq: number
  difficulty: number
}

export interface Worker {
  payoutAddress: string
  worker: string
}

/** A submit waiting for its hash. A class: one fixed shape per share on the hot path. */
export class PendingShare {
  hash: Uint8Array | undefined = undefined
  err: unknown = undefined
  ready = false
  constructor(
    readonly id: RequestId,
    readonly workerName: string,
    readonly jobId: string,
    /** lower-case nonce hex */
    readonly key: string,
    readonly held: HeldJob,
    readonly worker: Worker,
    /** queued behind another pending submit: prechecked again when judged */
    readonly behind: boolean,
  ) {}
}

export class Session {
  readonly framer: LineFramer
  sessionId: string | undefined
  extranonce1 = -1
  extranonce1Hex = ''
  userAgent = ''
  readonly workers = new Map<string, Worker>()
  /** A worker is authorized (`workers` is not empty; a field: the notify fan-out reads it for every session). */
  authorized = false
  difficulty: number
  /** suggest_difficulty floor (clamped and rounded like every difficulty sent); 0 = none */
  floor = 0
  /** d= option: vardiff off */
  fixed = false
  /** Difficulty last announced with mining.set_difficulty (0 = none yet). */
  announced = 0
  vardiff: VardiffState
  /** Difficulty credited lately: the session's weight in the work distribution. */
  credited: CreditedRate
  jobs = new Map<string, HeldJob>()
  /** Highest job seq sent to this session: a job id above it was never sent (a made-up id). */
  lastJobSeq = 0
  /** The job sent last (undefined before the first of a block). */
  current: HeldJob | undefined
  /**
   * Judged nonces per work of the open block: lower-case nonce hex → the job id it
   * was judged under. One set per work, whatever job id carried it (a retarget or
   * rebalance re-issues the same work under a new id; its nonces stay used).
   */
  seen = new Map<Work, Map<string, string>>()
  /** Nonces in `seen` (bounded by the per-block maximum). */
  seenNonces = 0
  /**
   * Nonces judged in this block under this extranonce1 by earlier sessions whose
   * reservation was freed (evicted or expired) before this one got it, per work.
   * Not credited again (22) but neutral: this miner never sent them. Counted in the
   * pool-wide nonce total, not in `seenNonces`.
   */
  inherited: Map<Work, Map<string, string>> | undefined = undefined
  farmer: string | undefined
  /** Block index of the last job sent (cleanJobs is true on the first job of a block). */
  jobBlock = -1
  extranonceSubscribe = false
  lastValidShareMs: number
  sharesJudged = 0
  sharesInvalid = 0
  /** Submits in the verifier, answered in this order (at most PIPELINE_MAX). */
  readonly pending: PendingShare[] = []
  /** A settle of `pending` is scheduled for this turn. */
  settleQueued = false
  /** A line waits for the pending answers (deferred): no further line is read. */
  busy = false
  /** The deferred line (or the framer's 'oversize' mark), handled first once `pending` is empty. */
  deferred: NextLine = undefined
  /** Reading paused by us (backpressure). */
  paused = false
  /** ms since which the socket has not drained; 0 = drained. */
  stallSinceMs = 0
  closing = false
  /**
   * Closed for a ban or a fatal protocol error: shares still in the verifier are
   * dropped (later lines would never have been read). Any other close (the client
   * left, idle, write stall, shutdown) still judges and credits them.
   */
  dropPending = false
  /** The connection is gone (stratifier.detach); parked for resume once `pending` is empty. */
  detached = false
  private logger: Logger | undefined

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly ip: string,
    readonly connectedMs: number,
    lineBytesMax: number,
    difficulty: number,
    private readonly parentLog: Logger,
  ) {
    this.framer = new LineFramer(lineBytesMax)
    this.difficulty = difficulty
    this.vardiff = vardiffStart(connectedMs)
    this.credited = creditedStart(connectedMs)
    this.lastValidShareMs = connectedMs
  }

  get subscribed(): boolean {
    return this.extranonce1 >= 0
  }


  /** pino child logger, made on first use: most sessions never log, and each child costs memory. */
  get log(): Logger {
    this.logger ??= this.parentLog.child({ session: this.id, ip: this.ip })
    return this.logger
  }

  /** Remembers a job sent at the current difficulty, evicting the oldest beyond SESSION_JOBS_MAX. */
  hold(job: Job, target: Uint8Array): void {
    const had = this.jobs.get(job.id)
    this.jobs.delete(job.id)
    // Re-sent at the same difficulty (e.g. after a resume): the held job stays as it was.
    const keep = had !== undefined && had.difficulty === this.difficulty
    const held = keep ? had : { job, difficulty: this.difficulty, target }
    this.jobs.set(job.id, held)
    this.current = held
    if (job.seq > this.lastJobSeq) this.lastJobSeq = job.seq
    while (this.jobs.size > SESSION_JOBS_MAX) {
      const oldest = this.jobs.keys().next()
      if (oldest.done) break
      this.jobs.delete(oldest.value)
    }
  }

  /** The job id a nonce (lower-case hex) of `work` was judged under, if it was. */
  judgedUnder(work: Work, key: string): string | undefined {
    return this.seen.get(work)?.get(key)
  }

  /**
   * Records a judged nonce of `held`'s work under its job id; returns how many nonces
   * that added (0 or 1). The work's set is made with its first nonce, not with the
   * job: a new block sends 10 000 sessions a job each, most before any share.
   */
  remember(held: HeldJob, key: string): number {
    let seen = this.seen.get(held.job.work)
    if (seen === undefined) {
      seen = new Map()
      this.seen.set(held.job.work, seen)
    }
    if (seen.has(key)) return 0
    seen.set(key, held.job.id)
    this.seenNonces++
    return 1
  }

  /**
   * Whether `jobId` (not held any more) was sent to this session, as far as ids
   * tell: job ids are growing hex counters, so an id above the last one sent, or
   * not in their form, never was. Stale-but-sent ids are the pool's doing (neutral);
   * made-up ones count as invalid shares.
   */
  mayHaveSent(jobId: string): boolean {
    if (!JOB_ID_RE.test(jobId)) return false
    return parseInt(jobId, 16) <= this.lastJobSeq
  }

  /** Whether an earlier holder of this extranonce1 had `key` judged for `work` in this block. */
  inheritedHas(work: Work, key: string): boolean {
    return this.inherited?.get(work)?.has(key) === true
  }

  /** A new block: every job held is of an older block, hence stale (cheaper than `pruneStale`). */
  dropJobs(): void {
    if (this.jobs.size > 0) this.jobs.clear()
    this.current = undefined
    if (this.seen.size > 0) this.seen.clear()
    this.seenNonces = 0
    this.inherited = undefined
  }

  /**
   * Drops jobs and duplicate sets (own and inherited) whose work is stale (block
   * over or worked): they can only answer 21 anyway. Recounts `seenNonces` (shares
   * still in the verifier when a session was parked were remembered after its
   * carry was taken) and returns how many nonces it forgot.
   */
  pruneStale(): number {
    for (const [id, h] of this.jobs) if (h.job.work.stale) this.jobs.delete(id)
    if (this.current?.job.work.stale) this.current = undefined
    let kept = 0
    let dropped = 0
    for (const [w, nonces] of this.seen) {
      if (w.stale) {
        dropped += nonces.size
        this.seen.delete(w)
      } else kept += nonces.size
    }
    this.seenNonces = kept
    if (this.inherited !== undefined) {
      for (const [w, nonces] of this.inherited) {
        if (!w.stale) continue
        dropped += nonces.size
        this.inherited.delete(w)
      }
    }
    return dropped
  }
}

/** Parses `PAYOUT_ADDRESS[.worker]`; undefined when the address checksum or worker name is bad. */
export function parseUsername(username: string): Worker | undefined {
  const dot = username.indexOf('.')
  const address = dot < 0 ? username : username.slice(0, dot)
  const worker = dot < 0 ? 'default' : username.slice(dot + 1)
  if (decodeStrKey(VersionByte.accountId, address) === null) return undefined
  if (!WORKER_RE.test(worker)) return undefined
  return { payoutAddress: address, worker }
}

export type PasswordOptions = { difficulty?: number } | { error: string }

/** `password` = comma-separated options; `d=<difficulty>` fixes the difficulty (unclamped). Unknown options are ignored. */
export function parsePassword(password: unknown): PasswordOptions {
  if (typeof password !== 'string') return {}
  for (const part of password.split(',', 16)) {
    const p = part.trim()
    if (!p.startsWith('d=')) continue
    const d = Number(p.slice(2))
    // Any positive number: PROTOCOL.md clamps it to the pool's bounds (the caller does).
    if (!Number.isFinite(d) || d <= 0 || p.length === 2) return { error: 'Invalid params: d= must be a positive number' }
    return { difficulty: d }
  }
  return {}
}
