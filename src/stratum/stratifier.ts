// The stratifier (ckpool's name for it): protocol methods, shares, vardiff, jobs
// and work distribution. It never touches a socket — it writes through `Io` — so
// the server (the connector) alone owns sockets, framing and limits.
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { BlockEvent, PlantedEvent, ShareSink } from '../events.js'
import { farmerKeyOf, targetBytes, belowOrEqual, zeros as zerosOf, HASH_BYTES } from '../kale/index.js'
import type { ShareVerifier } from '../workers/verifier.js'
import { BestWorkTracker } from './best-work.js'
import { creditedHashrate, creditedRecord, distribute } from './distribution.js'
import { ExtranonceAllocator, newSessionId } from './extranonce.js'
import { JobBook, notifyLine, type Job, type Work } from './jobs.js'
import {
  type Request, type RequestId, type ShareOutcome, RpcCode, SHARE_OUTCOMES, MethodError, NONCE_HEX_RE,
  countsAsInvalid, countsAsJudged, encodeError, encodeNotification, encodeOutcome, encodeResult, encodeTrue,
} from './protocol.js'
import { Session, SESSION_NONCES_PER_BLOCK_MAX, parsePassword, parseUsername, type SessionCarry, PendingShare } from './session.js'
import { clampDifficulty, roundDifficulty, vardiffDue, vardiffRecord, vardiffRetarget, VARDIFF_HYSTERESIS_RATIO, VARDIFF_SHARES_MAX, type VardiffParams } from './vardiff.js'

export interface StratifierOptions {
  extranonce1Bytes: number
  vardiffTargetSeconds: number
  vardiffRetargetSeconds: number
  difficultyStart: number
  difficultyMin: number
  difficultyMax: number
  banInvalidPercent: number
  banSharesMin: number
  sessionsMax: number
  /** Judged nonces remembered per session per block (default SESSION_NONCES_PER_BLOCK_MAX; tests pass less). */
  sessionNoncesPerBlockMax?: number | undefined
  /** Judged nonces remembered across all sessions (live, closing and parked) in one block. */
  stratumNoncesRememberedMax: number
}

/** How the stratifier reaches sockets (implemented by the server). */
export interface Io {
  send(s: Session, line: string): void
  /** Bans the session's IP (when configured) and closes it. */
  ban(s: Session): void
  /** A pending line's answer was written: handle the session's next lines. */
  resume(s: Session): void
  /** Several lines follow: buffer them into one socket write until `uncork`. */
  cork(s: Session): void
  uncork(s: Session): void
}

const TARGET_CACHE_MAX = 4096
/** Submits one session may have in the verifier at once (pipelined behind the first). */
export const PIPELINE_MAX = 16

export const Handled = { done: 0, pending: 1, defer: 2 } as const
export type Handled = (typeof Handled)[keyof typeof Handled]

function settleLater(st: Stratifier, s: Session): void {
  st.settle(s)
}
/** A newly authorized session waits at most this long for its first job (logins are assigned in batches). */
const LOGIN_REBALANCE_MS = 50
/** Keep a session on its farmer while that farmer is at most this over the fair share. */
const SLACK_RATIO = 1.25
/** A session's weight in the distribution is the difficulty credited to it over about this long. */
const RATE_WINDOW_MS = 5 * 60 * 1000
/** Workers (usernames) one session may authorize. */
const SESSION_WORKERS_MAX = 64

export class Stratifier {
  readonly bestWork = new BestWorkTracker()
  readonly jobs = new JobBook()
  readonly sessions = new Set<Session>()
  /** Closed sessions whose shares are still in the verifier: parked (and forgotten here) once the last is judged. */
  readonly draining = new Set<Session>()
  private readonly extranonce: ExtranonceAllocator<SessionCarry>
  private readonly vardiff: VardiffParams
  private readonly targets = new Map<number, Uint8Array>()
  private planted = new Map<string, Uint8Array>()
  private zerosTarget = Infinity
  private rebalanceQueued = false
  private readonly sharesBy: Record<ShareOutcome, { inc(n?: number): void }>
  private readonly noncesPerBlockMax: number
  /**
   * Nonces remembered in this block's duplicate sets, all sessions together (live,
   * draining, parked, and freed reservations' sets in `freedSets`). A set of a work
   * gone stale that is dropped early may still count until the block ends (an
   * over-count, so the bound still holds); every set is cleared at a new block, and
   * this with them.
   */
  private noncesRemembered = 0
  /**
   * Duplicate sets of parked reservations freed (expired or evicted) in this
   * block, by extranonce1, until a new session gets that extranonce1 (see `freed`).
   */
  private readonly freedSets = new Map<number, Map<Work, Map<string, string>>>()

  constructor(
    private readonly o: StratifierOptions,
    private readonly verifier: ShareVerifier,
    private readonly sink: ShareSink,
    private readonly io: Io,
    private readonly m: Metrics,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.extranonce = new ExtranonceAllocator<SessionCarry>(o.extranonce1Bytes, o.sessionsMax, (e1, c) => this.freed(e1, c))
    this.noncesPerBlockMax = o.sessionNoncesPerBlockMax ?? SESSION_NONCES_PER_BLOCK_MAX
    this.vardiff = {
      targetSeconds: o.vardiffTargetSeconds, retargetSeconds: o.vardiffRetargetSeconds, retargetSharesMax: VARDIFF_SHARES_MAX,
      difficultyMin: o.difficultyMin, difficultyMax: o.difficultyMax, hysteresisRatio: VARDIFF_HYSTERESIS_RATIO,
    }
    // Bound label children once: .labels() hashes its arguments on every call.
    const entries = Object.entries(SHARE_OUTCOMES).map(([k, v]) => [k, m.sharesTotal.labels(v.metric)] as const)
    this.sharesBy = Object.fromEntries(entries) as unknown as Record<ShareOutcome, { inc(n?: number): void }>
  }

  /**
   * Handles one request. Returns `Handled.done` (answered), `Handled.pending` (a
   * submit waits for the verifier; further submits may follow it) or
   * `Handled.defer` (not handled: the line must wait until every pending answer is
   * written — the server keeps it and calls nothing until `io.resume(s)`).
   */
  handle(s: Session, r: Request): Handled {
    if (r.method === 'mining.submit') return this.submit(s, r)
    if (s.pending.length > 0) return Handled.defer
    switch (r.method) {
      case 'mining.subscribe': return this.send(s, this.subscribe(s, r))
      case 'mining.authorize': return this.send(s, this.authorize(s, r))
      case 'mining.suggest_difficulty': return this.send(s, this.suggest(s, r))
      case 'mining.extranonce.subscribe':
        s.extranonceSubscribe = true
        return this.send(s, encodeTrue(r.id))
      default:
        this.m.protocolErrorsTotal.labels(String(RpcCode.methodNotFound)).inc()
        return this.send(s, encodeError(r.id, RpcCode.methodNotFound, 'Method not found'))
    }
  }

  private send(s: Session, line: string): Handled {
    this.io.send(s, line)
    return Handled.done
  }

  private invalidParams(id: RequestId, why: string): string {
    this.m.protocolErrorsTotal.labels(String(RpcCode.invalidParams)).inc()
    return encodeError(id, RpcCode.invalidParams, `Invalid params: ${why}`)
  }

  private subscribe(s: Session, r: Request): string {
    const [agent, wanted] = r.params
    if ((agent !== undefined && agent !== null && typeof agent !== 'string') || (wanted !== undefined && wanted !== null && typeof wanted !== 'string')) {
      return this.invalidParams(r.id, 'expected [userAgent?, sessionId?]')
    }
    if (!s.subscribed) {
      s.userAgent = typeof agent === 'string' ? agent.slice(0, 64) : ''
      const resumed = typeof wanted === 'string' ? this.extranonce.resume(wanted, this.now()) : undefined
      if (resumed) {
        s.sessionId = wanted as string
        s.extranonce1 = resumed.extranonce1
        s.jobs = resumed.carry.jobs
        s.seen = resumed.carry.seen
        s.inherited = resumed.carry.inherited
        s.lastJobSeq = resumed.carry.lastJobSeq
        this.noncesRemembered -= s.pruneStale() // the block may have ended while it was parked; counts seenNonces
        s.difficulty = resumed.carry.difficulty
      } else {
        const e1 = this.extranonce.allocate()
        if (e1 === undefined) return encodeError(r.id, MethodError.other.code, 'Other: no extranonce1 free')
        s.sessionId = newSessionId()
        s.extranonce1 = e1
        s.inherited = this.freedSets.get(e1)
        this.freedSets.delete(e1)
      }
      s.extranonce1Hex = this.extranonce.hex(s.extranonce1)
    }
    return encodeResult(r.id, [s.sessionId, s.extranonce1Hex, 8 - this.o.extranonce1Bytes])
  }

  private authorize(s: Session, r: Request): string {
    const [username, password] = r.params
    if (typeof username !== 'string' || (password !== undefined && password !== null && typeof password !== 'string')) {
      return this.invalidParams(r.id, 'expected [username, password?]')
    }
    if (!s.subscribed) return encodeError(r.id, MethodError.notSubscribed.code, MethodError.notSubscribed.message)
    const w = parseUsername(username)
    if (!w) return encodeError(r.id, MethodError.unauthorizedWorker.code, MethodError.unauthorizedWorker.message)
    const opts = parsePassword(password)
    if ('error' in opts) return this.invalidParams(r.id, opts.error.replace('Invalid params: ', ''))
    // Before d= is applied: a refused authorize changes nothing.
    if (!s.workers.has(username) && s.workers.size >= SESSION_WORKERS_MAX) return encodeError(r.id, MethodError.other.code, 'Other: too many workers')
    if (opts.difficulty !== undefined) {
      s.fixed = true
      s.difficulty = roundDifficulty(clampDifficulty(opts.difficulty, this.o.difficultyMin, this.o.difficultyMax))
    }
    const first = !s.authorized
    s.workers.set(username, w)
    s.authorized = true
    if (first) {
      this.m.sessionsAuthorized.inc()
      // Answer first, then set_difficulty and notify (PROTOCOL.md order).
      this.io.send(s, encodeTrue(r.id))
      this.assignOne(s)
      return ''
    }
    return encodeTrue(r.id)
  }

  private suggest(s: Session, r: Request): string {
    const d = r.params[0]
    if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0) return this.invalidParams(r.id, 'expected [difficulty]')
    // Rounded like every difficulty sent: an unrounded floor (4.4) stays above the
    // difficulty it rounds to (4), so each suggest or retarget re-issued the job.
    s.floor = roundDifficulty(clampDifficulty(d, this.o.difficultyMin, this.o.difficultyMax))
    if (!s.fixed && (s.difficulty < s.floor || !s.authorized)) {
      s.difficulty = s.floor
      this.io.send(s, encodeTrue(r.id))
      if (s.authorized) this.retargetJob(s)
      return ''
    }
    return encodeTrue(r.id)
  }

  // --- shares ---

  /**
   * A submit behind pending ones (pipelined) is only queued when its precheck
   * passes; any other outcome waits (defer) so rejects, bans and job changes happen
   * in line order exactly as if each submit had waited for the one before it. A
   * pipelined share is prechecked again when its turn to be judged comes.
   */
  private submit(s: Session, r: Request): Handled {
    const behind = s.pending.length > 0
    if (behind && s.pending.length >= PIPELINE_MAX) return Handled.defer
    const [workerName, jobId, nonceHex] = r.params
    if (typeof workerName !== 'string' || typeof jobId !== 'string' || typeof nonceHex !== 'string') {
      if (behind) return Handled.defer
      return this.send(s, this.invalidParams(r.id, 'expected [workerName, jobId, nonceHex]'))
    }
    const pre = this.precheck(s, workerName, jobId, nonceHex)
    if (typeof pre === 'string') {
      if (behind) return Handled.defer
      this.judged(s, r.id, pre)
      return Handled.done
    }
    const key = nonceHex.toLowerCase()
    const slot = new PendingShare(r.id, workerName, jobId, key, pre.held, pre.worker, behind)
    if (!this.verifier.verify(pre.held.job.work.template, key, (hashes, at, err) => this.verified(s, slot, hashes, at, err))) {
      if (behind) return Handled.defer
      this.judged(s, r.id, 'busy')
      return Handled.done
    }
    s.pending.push(slot)
    return Handled.pending
  }

  private verified(s: Session, slot: PendingShare, hashes: Uint8Array | undefined, at: number, err: unknown): void {
    slot.err = err
    slot.ready = true
    // The only share in flight (the common case): answer now. Several: answer them
    // together after this batch's callbacks, in one corked write. The verifier's
    // buffer is valid only during this call, so a hash judged later is copied
    // (a share can wait here for an earlier one of its session in a slower batch).
    if (s.pending.length === 1) {
      slot.hash = hashes?.subarray(at, at + HASH_BYTES)
      try {
        this.settle(s)
      } finally {
        // Judging threw and left the share queued: it must not keep a view of the buffer.
        if (s.pending[0] === slot && hashes) slot.hash = Uint8Array.from(hashes.subarray(at, at + HASH_BYTES))
      }
      return
    }
    slot.hash = hashes && Uint8Array.from(hashes.subarray(at, at + HASH_BYTES))
    if (!s.settleQueued) {
      s.settleQueued = true
      process.nextTick(settleLater, this, s)
    }
  }

  /** Judges and answers the ready shares at the head of the session's queue, in order. */
  settle(s: Session): void {
    s.settleQueued = false
    const q = s.pending
    let n = 0
    while (n < q.length && q[n]!.ready) n++
    if (n === 0) return
    const many = n > 1
    if (many) this.io.cork(s)
    for (let i = 0; i < n; i++) {
      const slot = q[i]!
      // A ban or fatal error closed the session: later lines would never have been
      // read, so their shares are dropped. A session closed otherwise (client gone,
      // shutdown) still has its shares judged and credited; only writes are skipped.
      if (s.dropPending) break
      if (!slot.hash) {
        s.log.error({ err: slot.err }, 'share verification failed')
        this.judged(s, slot.id, 'internal')
        continue
      }
      let held = slot.held
      if (slot.behind) {
        const pre = this.precheck(s, slot.workerName, slot.jobId, slot.key)
        if (typeof pre === 'string') {
          this.judged(s, slot.id, pre)
          continue
        }
        held = pre.held
      }
      const o = this.judgeHash(s, held, slot.hash, slot.key, slot.worker)
      // Only a nonce that was judged is used: after "busy" the miner retries it.
      if (o === 'accepted' || o === 'lowDifficulty') this.noncesRemembered += s.remember(held, slot.key)
      this.judged(s, slot.id, o)
    }
    q.splice(0, n)
    if (many) this.io.uncork(s)
    if (q.length > 0) return
    if (s.detached) {
      this.draining.delete(s)
      this.park(s)
    } else this.io.resume(s)
  }

  /**
   * Room in the pool-wide duplicate memory for one more nonce of `s`. Past half of
   * STRATUM_NONCES_REMEMBERED_MAX only sessions below an even share of that half
   * go on (so one client with many sessions cannot use it up for everyone); at the
   * bound nobody does. Checked before hashing: the shares already in the verifier
   * (at most VERIFY_SHARES_IN_FLIGHT_MAX) may still be remembered past it.
   */
  private nonceRoomFor(s: Session): boolean {
    const max = this.o.stratumNoncesRememberedMax
    const used = this.noncesRemembered
    if (used < max / 2) return true
    if (used >= max) return false
    return s.seenNonces * Math.max(1, this.sessions.size) < max / 2
  }

  /** Checks 25, 24, 20, 21, 22 in PROTOCOL.md order, before any hashing. */
  private precheck(s: Session, workerName: string, jobId: string, nonceHex: string): ShareOutcome | { held: NonNullable<ReturnType<Session['jobs']['get']>>; worker: { payoutAddress: string; worker: string } } {
    if (!s.subscribed) return 'notSubscribed'
    const worker = s.workers.get(workerName)
    if (!worker) return 'unauthorized'
    if (!NONCE_HEX_RE.test(nonceHex) || nonceHex.slice(0, s.extranonce1Hex.length).toLowerCase() !== s.extranonce1Hex) return 'malformedNonce'
    const held = s.jobs.get(jobId)
    if (held === undefined) return s.mayHaveSent(jobId) ? 'jobNotFound' : 'jobUnknown'
    if (held.job.work.stale) return 'jobNotFound'
    const key = nonceHex.toLowerCase()
    const judgedUnder = s.judgedUnder(held.job.work, key)
    if (judgedUnder !== undefined) return judgedUnder === jobId ? 'duplicate' : 'duplicateReissued'
    if (s.inheritedHas(held.job.work, key)) return 'duplicateReissued'
    // Bounded duplicate memory: forgetting nonces (or re-sending the work under a
    // new id with an empty set) would let them be credited again, so past the bound
    // the session's shares are refused until the next block clears the sets.
    if (s.seenNonces >= this.noncesPerBlockMax || !this.nonceRoomFor(s)) return 'shareLimit'
    return { held, worker }
  }

  private judgeHash(s: Session, held: { job: Job; difficulty: number; target: Uint8Array }, hash: Uint8Array, nonceHex: string, worker: { payoutAddress: string; worker: string }): ShareOutcome {
    const work = held.job.work
    // The block may have ended while the hash was computed.
    if (work.stale) return 'jobNotFound'
    if (!belowOrEqual(hash, held.target)) return 'lowDifficulty'
    const z = zerosOf(hash)
    const nowMs = this.now()
    const ok = this.sink.add({ block: work.index, farmer: work.farmer, payoutAddress: worker.payoutAddress, worker: worker.worker, difficulty: held.difficulty, zeros: z, at: nowMs })
    if (!ok) return 'busy'
    s.lastValidShareMs = nowMs
    s.credited = creditedRecord(s.credited, held.difficulty, nowMs, RATE_WINDOW_MS)
    this.m.acceptedDifficultyTotal.inc(held.difficulty)
    if (this.bestWork.offer(work.index, work.farmer, nonceHex, hash, z) && z >= this.zerosTarget) this.queueRebalance()
    if (!s.fixed) {
      s.vardiff = vardiffRecord(s.vardiff, held.difficulty)
      if (vardiffDue(s.vardiff, nowMs, this.vardiff)) this.retarget(s, nowMs)
    }
    return 'accepted'
  }

  private judged(s: Session, id: RequestId, o: ShareOutcome): void {
    this.sharesBy[o].inc()
    this.io.send(s, encodeOutcome(id, o))
    if (!countsAsJudged(o)) return
    s.sharesJudged++
    if (countsAsInvalid(o)) s.sharesInvalid++
    if (s.sharesJudged >= this.o.banSharesMin && s.sharesInvalid * 100 > this.o.banInvalidPercent * s.sharesJudged) {
      s.log.warn({ judged: s.sharesJudged, invalid: s.sharesInvalid }, 'invalid-share ban')
      this.io.ban(s)
    }
  }

  // --- vardiff ---

  /** Coarse-timer hook: sessions without shares also get their difficulty lowered. */
  tick(nowMs: number): void {
    for (const s of this.sessions) {
      if (s.authorized && !s.fixed && !s.closing && vardiffDue(s.vardiff, nowMs, this.vardiff)) this.retarget(s, nowMs)
    }
    this.extranonce.expire(nowMs)
    this.m.noncesRemembered.set(this.noncesRemembered)
  }

  private retarget(s: Session, nowMs: number): void {
    const r = vardiffRetarget(s.vardiff, s.difficulty, s.floor, nowMs, this.vardiff)
    s.vardiff = r.state
    if (r.difficulty === undefined) return
    s.difficulty = r.difficulty
    this.retargetJob(s)
  }

  /** After a difficulty change: set_difficulty, then the same work under a job id this session has not seen. */
  private retargetJob(s: Session): void {
    const f = s.farmer
    const key = f === undefined ? undefined : this.planted.get(f)
    if (f === undefined || key === undefined) return
    // Only a real change needs a job: a new job id per no-op retarget is churn.
    const held = s.current
    if (held !== undefined && held.difficulty === s.difficulty && held.job.work.farmer === f && !held.job.work.stale) return
    const cur = this.jobs.jobFor(f, key)
    if (!cur) return
    const job = s.jobs.has(cur.id) ? this.jobs.reissue(f, key, cur) : cur
    if (job) this.sendJob(s, job)
  }

  // --- jobs and distribution ---

  private target(d: number): Uint8Array {
    let t = this.targets.get(d)
    if (!t) {
      if (this.targets.size >= TARGET_CACHE_MAX) this.targets.clear()
      t = targetBytes(d)
      this.targets.set(d, t)
    }
    return t
  }

  private sendJob(s: Session, job: Job): void {
    if (s.announced !== s.difficulty) {
      this.io.send(s, encodeNotification('mining.set_difficulty', [s.difficulty]))
      s.announced = s.difficulty
    }
    // false promises the jobs held stay valid (PROTOCOL.md): not so once the last
    // one's work is void (its farmer was worked and the session moved).
    const prev = s.current
    const clean = s.jobBlock !== job.work.index || prev === undefined || prev.job.work.stale
    s.jobBlock = job.work.index
    s.farmer = job.work.farmer
    s.hold(job, this.target(s.difficulty))
    this.io.send(s, notifyLine(job, clean))
  }

  onBlock(ev: BlockEvent): void {
    const cur = this.jobs.blockIndex
    if (cur !== undefined && ev.index <= cur) return
    this.jobs.openBlock(ev.index, ev.entropy)
    this.planted = new Map()
    const maxZeros = Number(ev.stats.maxZeros)
    // No previous work (max_zeros 0): any zeros pay, aim as high as possible.
    this.zerosTarget = maxZeros > 0 ? maxZeros : Infinity
    // openBlock made every earlier work stale: all jobs sessions hold are of old blocks.
    for (const s of this.sessions) {
      s.farmer = undefined
      s.dropJobs()
    }
    // Closed, parked and freed sessions' sets are all of old works too: dropped —
    // parked jobs with them, as each holds its work's set — so the count of nonces
    // remembered starts again from zero and stays true.
    for (const s of this.draining) s.dropJobs()
    for (const c of this.extranonce.carries()) {
      c.jobs.clear()
      c.seen.clear()
      c.inherited = undefined
    }
    this.freedSets.clear()
    this.noncesRemembered = 0
    this.m.noncesRemembered.set(0)
    this.log.info({ index: ev.index, zerosTarget: maxZeros }, 'new block')
  }

  onPlanted(ev: PlantedEvent): void {
    if (ev.index !== this.jobs.blockIndex) return
    for (const f of ev.farmers) {
      const key = farmerKeyOf(f)
      if (!key) this.log.warn({ farmer: f }, 'planted farmer is not a valid address; skipped')
      else this.planted.set(f, key)
    }
    this.rebalance()
  }

  markWorked(index: number, farmer: string): void {
    // Remembered for a block the stratum has not opened yet too (see JobBook.markWorked).
    this.jobs.markWorked(index, farmer)
    if (index === this.jobs.blockIndex) this.rebalance()
  }

  /** After authorize: set_difficulty always (PROTOCOL.md), then a job if a farmer is eligible. */
  private assignOne(s: Session): void {
    if (s.announced !== s.difficulty) {
      this.io.send(s, encodeNotification('mining.set_difficulty', [s.difficulty]))
      s.announced = s.difficulty
    }
    // Its job comes with the next rebalance, at most LOGIN_REBALANCE_MS later: one
    // rebalance (O(sessions)) serves every login in that window. Rebalancing per
    // authorize was quadratic in a login storm (10 000 sessions after a restart: 13.7 s).
    this.queueRebalance(LOGIN_REBALANCE_MS)
  }

  private queueRebalance(delayMs = 0): void {
    if (this.rebalanceQueued) return
    this.rebalanceQueued = true
    const run = (): void => {
      this.rebalanceQueued = false
      this.rebalance()
    }
    if (delayMs > 0) setTimeout(run, delayMs).unref()
    else setImmediate(run)
  }

  /** Recomputes the distribution; sessions whose farmer changed (or that have no job) get one. */
  rebalance(): void {
    const index = this.jobs.blockIndex
    if (index === undefined || this.planted.size === 0) return
    const started = process.hrtime.bigint()
    const farmers = [...this.planted.keys()].map((f) => ({ farmer: f, bestZeros: this.bestWork.best(index, f)?.zeros ?? 0, worked: this.jobs.isWorked(f) }))
    const loads = []
    const members: Session[] = []
    // Weighted by work credited, never by the difficulty claimed (d=, a suggest
    // floor). Before its first share a session counts as a miner at the start
    // difficulty: small, and the same for everyone.
    const prior = this.o.difficultyStart / this.o.vardiffTargetSeconds
    const nowMs = this.now()
    for (const s of this.sessions) {
      if (!s.authorized || s.closing) continue
      members.push(s)
      const rate = creditedHashrate(s.credited, nowMs, RATE_WINDOW_MS, this.o.vardiffTargetSeconds * 1000, prior)
      loads.push({ id: s.id, hashrate: rate, farmer: s.jobBlock === index ? s.farmer : undefined })
    }
    const plan = distribute({ farmers, sessions: loads, zerosTarget: this.zerosTarget, slackRatio: SLACK_RATIO })
    let sent = 0
    for (let i = 0; i < members.length; i++) {
      const farmer = plan[i]
      const s = members[i]!
      if (farmer === undefined || (s.jobBlock === index && s.farmer === farmer)) continue
      const job = this.jobs.jobFor(farmer, this.planted.get(farmer)!)
      if (!job) continue
      const held = s.jobs.get(job.id)
      this.sendJob(s, held !== undefined && held.difficulty !== s.difficulty ? this.jobs.reissue(farmer, this.planted.get(farmer)!, job) ?? job : job)
      sent++
    }
    if (sent > 0) this.m.notifySeconds.observe(Number(process.hrtime.bigint() - started) / 1e9)
  }

  /**
   * A session ended: keep its extranonce1 and jobs for resume — once its shares in
   * the verifier are judged (settle parks it then). Resumable earlier, the same
   * nonce could be submitted again while the first copy is still being verified.
   */
  detach(s: Session): void {
    if (this.sessions.delete(s) && s.authorized) this.m.sessionsAuthorized.dec()
    s.detached = true
    if (s.pending.length === 0) this.park(s)
    else this.draining.add(s)
  }

  private park(s: Session): void {
    if (s.subscribed && s.sessionId !== undefined) {
      this.noncesRemembered -= s.pruneStale()
      this.extranonce.park(s.sessionId, s.extranonce1, { jobs: s.jobs, seen: s.seen, inherited: s.inherited, lastJobSeq: s.lastJobSeq, difficulty: s.difficulty }, this.now())
    }
  }

  /**
   * A parked reservation was freed (expired, or evicted for room) and its
   * extranonce1 may go to a new session in this same block, whose duplicate memory
   * would be empty: the nonces judged under it could be credited again. So its sets
   * wait here and go to the next holder of the extranonce1 until the block ends.
   * Simpler than holding the extranonce1 back until the next block, which could
   * lock new miners out when the space is tight. The sets are moved, not copied,
   * and their nonces stay counted in `noncesRemembered` (counted when judged), so
   * the pool-wide bound covers them; sets of stale works are left to the over-count.
   */
  private freed(e1: number, c: SessionCarry): void {
    let sets = c.inherited
    for (const [w, nonces] of c.seen) {
      if (w.stale || nonces.size === 0) continue
      sets ??= new Map()
      const into = sets.get(w)
      if (into === undefined) sets.set(w, nonces)
      else for (const [k, id] of nonces) into.set(k, id)
    }
    if (sets !== undefined && sets.size > 0) this.freedSets.set(e1, sets)
  }
}
