// Payouts: miners whose balance reached the threshold are paid in KALE from the
// farmer accounts' harvested balances, one signed transaction (≤ 100 payments)
// per farmer account per run.
//
// Never paid twice, never lost:
// 1. sign first, so the exact hash is known;
// 2. commit the payout row (hash, envelope, time bound) with its entries and the
//    miners' debits in ONE transaction, BEFORE sending;
// 3. send; then look the hash up.
// A crash anywhere leaves a 'pending' payout that the next run reconciles by
// hash: found applied → completed; found failed → debits reversed by
// compensating entries (the miners are paid in a later run); not found → resend
// the same envelope (the network applies a hash once) until its time bound has
// passed on both the ledger and the wall clock, then it can never apply: reversed
// and re-queued. A pending payout's source account waits for it to settle.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { LanePayResult, Lookup, Payment, SendOutcome, SignedPayment, Trust, TrustStatus } from '../chain/payments.js'
import { PoolError, ErrorCode } from '../errors.js'
import type { Logger } from '../log.js'
import { silentLogger } from '../log.js'
import { metrics as defaultMetrics, type Metrics } from '../metrics/metrics.js'
import type { Sql } from './db.js'
import { toBigInt } from './amounts.js'

export const PAYMENTS_PER_TX_MAX = 100

/**
 * Due miners one run looks at, at most: largest balance first, miners skipped
 * lately last (so unpayable ones cannot crowd out the payable); the rest wait
 * for the next run. Bounds the trustline reads and the run's memory.
 */
export const DUE_MINERS_PER_RUN_MAX = 10_000

/** A miner skipped for a reason is recorded (and told) again for that reason only after this long. */
export const SKIP_REPEAT_SECONDS = 86_400

/** What payouts need from the chain (chain/payments.ts KalePayments provides it). */
export interface PayoutChain {
  balances(accounts: readonly string[]): Promise<Map<string, bigint>>
  trustlines(addresses: readonly string[]): Promise<Map<string, Trust>>
  build(source: string, payments: readonly Payment[], validSeconds: number): Promise<SignedPayment>
  send(envelopeXdr: string): Promise<SendOutcome>
  lookup(hash: string): Promise<Lookup>
  /** true: pay through the submitter's lane of the source (payInLane) instead of build/send */
  readonly lanes?: boolean
  /**
   * Pays in the lane of `source` (serialized with its plant/work/harvest, sharing
   * the cached sequence number); `record` runs before each send and may throw.
   */
  payInLane?(source: string, payments: readonly Payment[], validSeconds: number, record: (p: SignedPayment, earlierMayApply: boolean) => Promise<void>): Promise<LanePayResult>
  /** forget the lane's cached sequence number of `source` */
  invalidate?(source: string): void
  /** the source has a transaction of its own queued or in flight */
  busy?(source: string): boolean
}

export interface Due {
  miner: string
  amountStroops: bigint
}

export interface Source {
  publicKey: string
  availableStroops: bigint
}

export interface PlannedBatch {
  source: string
  payments: Due[]
}

/**
 * Pure plan: sources in order of available balance (largest first, then key),
 * miners by amount (largest first, then address); each source pays up to
 * `perTxMax` miners from what it holds; a miner may be split across sources.
 * Whatever no source can cover stays in the balance for a later run.
 */
export function planPayouts(due: readonly Due[], sources: readonly Source[], perTxMax = PAYMENTS_PER_TX_MAX): PlannedBatch[] {
  assert(perTxMax >= 1 && perTxMax <= PAYMENTS_PER_TX_MAX)
  const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
  const left = [...due].filter((d) => d.amountStroops > 0n).sort((a, b) => (a.amountStroops === b.amountStroops ? byKey(a.miner, b.miner) : a.amountStroops > b.amountStroops ? -1 : 1)).map((d) => ({ ...d }))
  const srcs = [...sources].filter((s) => s.availableStroops > 0n).sort((a, b) => (a.availableStroops === b.availableStroops ? byKey(a.publicKey, b.publicKey) : a.availableStroops > b.availableStroops ? -1 : 1))
  const out: PlannedBatch[] = []
  let i = 0
  for (const s of srcs) {
    let avail = s.availableStroops
    const payments: Due[] = []
    while (i < left.length && payments.length < perTxMax && avail > 0n) {
      const d = left[i]!
      const take = d.amountStroops < avail ? d.amountStroops : avail
      payments.push({ miner: d.miner, amountStroops: take })
      avail -= take
      d.amountStroops -= take
      if (d.amountStroops === 0n) i++
    }
    if (payments.length > 0) out.push({ source: s.publicKey, payments })
    if (i >= left.length) break
  }
  return out
}

/**
 * Whether a transaction the RPC does not know can never apply any more: its time
 * bound passed on both the ledger and the wall clock (plus a margin). A missing
 * answer proves nothing once the RPC's retention no longer reaches back to when
 * the transaction was valid: then it stays pending for the operator to check.
 */
export function hasExpired(maxTime: number, latestCloseTime: number, oldestCloseTime: number, nowMs: number, marginSeconds: number, validSeconds: number): boolean {
  const retained = oldestCloseTime <= maxTime - validSeconds
  return retained && latestCloseTime > maxTime && nowMs / 1000 > maxTime + marginSeconds
}

export interface PayoutsOptions {
  sql: Sql
  chain: PayoutChain
  thresholdStroops: bigint
  /** active farmer accounts that may pay (default: farmers table, status active) */
  sources?: () => Promise<string[]>
  perTxMax?: number
  /** due miners looked at per run (default DUE_MINERS_PER_RUN_MAX) */
  duePerRunMax?: number
  /** time bound of a payment transaction */
  validSeconds?: number
  /** wait this long past the time bound before calling a missing transaction expired */
  expiryMarginSeconds?: number
  /** lookups after sending, before leaving the rest to the next run */
  pollAttempts?: number
  pollMs?: number
  /** a miner could not be paid (no account / no trustline): tell its sessions */
  onSkipped?: (address: string, reason: string) => void
  log?: Logger
  metrics?: Metrics
  now?: () => number
  /** test hooks: throw to simulate a crash at that point */
  hooks?: { afterCommit?: (p: SignedPayment) => void | Promise<void>; afterSend?: (p: SignedPayment) => void | Promise<void> }
}

export interface PayoutRunSummary {
  /** payout entries committed in this run */
  payouts: number
  paidStroops: bigint
  skipped: number
  reconciled: { completed: number; reversed: number; pending: number }
  [detail: string]: unknown
}

const VALID_SECONDS = 60
const EXPIRY_MARGIN_SECONDS = 10
const POLL_ATTEMPTS = 10
const POLL_MS = 500
const REASON_CHARS_MAX = 200

const SKIP_REASONS: Record<Exclude<TrustStatus, 'ok'> | 'line-full', string> = {
  'no-account': 'payout address has no Stellar account: create it and add a KALE trustline to receive payouts',
  'no-trustline': 'payout address has no KALE trustline: add one to receive payouts',
  'not-authorized': 'payout address KALE trustline is not authorized by the issuer: it cannot receive payouts',
  'line-full': 'payout address KALE trustline limit is too low for the payout: raise the limit to receive payouts',
}

interface PendingRow {
  id: bigint
  source: string
  tx_hash: string
  envelope_xdr: string
  max_time: bigint
}

/** A planned batch as the chain's payment list. */
const paymentsOf = (b: PlannedBatch): Payment[] => b.payments.map((p) => ({ destination: p.miner, amountStroops: p.amountStroops }))

export class Payouts {
  private readonly log: Logger
  private readonly m: Metrics
  private readonly now: () => number
  /** halt() was called: a run in progress finishes the payout it is sending and starts no other. */
  private halted = false

  constructor(private readonly o: PayoutsOptions) {
    assert(o.thresholdStroops > 0n, 'payout threshold must be > 0')
    this.log = o.log ?? silentLogger()
    this.m = o.metrics ?? defaultMetrics()
    this.now = o.now ?? Date.now
  }

  /** From now on runs settle or send nothing more (a graceful stop); the payout being sent is finished. */
  halt(): void {
    this.halted = true
  }

  /** One run: reconcile what is pending, then pay who is due. */
  async run(): Promise<PayoutRunSummary> {
    const reconciled = await this.reconcile()
    const summary: PayoutRunSummary = { payouts: 0, paidStroops: 0n, skipped: 0, reconciled }
    const due = await this.dueMiners()
    if (due.length === 0) return summary
    const trust = await this.o.chain.trustlines(due.map((d) => d.miner))
    const payable: Due[] = []
    for (const d of due) {
      const t = trust.get(d.miner) ?? { status: 'no-account', roomStroops: 0n }
      // One destination that cannot take its amount fails the whole batch (op_line_full).
      if (t.status === 'ok' && d.amountStroops <= t.roomStroops) payable.push(d)
      else await this.skip(d.miner, SKIP_REASONS[t.status === 'ok' ? 'line-full' : t.status])
    }
    summary.skipped = due.length - payable.length
    const batches = planPayouts(payable, await this.availableSources(), this.o.perTxMax ?? PAYMENTS_PER_TX_MAX)
    for (const b of batches) {
      if (this.halted) break
      const paid = await this.pay(b)
      if (paid === null) continue
      summary.payouts += b.payments.length
      summary.paidStroops += paid
    }
    return summary
  }

  /** Settles every pending payout it can; returns counts. */
  async reconcile(): Promise<PayoutRunSummary['reconciled']> {
    const out = { completed: 0, reversed: 0, pending: 0 }
    const rows = await this.o.sql<PendingRow[]>`SELECT id, source, tx_hash, envelope_xdr, max_time FROM payouts WHERE status = 'pending' ORDER BY id`
    for (const r of rows) {
      if (this.halted) break
      // A resend beside a busy lane would compete with that farmer's own transaction.
      const resend = !(this.o.chain.busy?.(r.source) ?? false)
      const s = await this.settle(r.id, r.tx_hash, r.envelope_xdr, Number(r.max_time), resend)
      // it applied (or was resent) beside the lane: the lane's sequence number is stale
      if (s === 'completed' || (s === 'pending' && resend)) this.o.chain.invalidate?.(r.source)
      out[s]++
    }
    return out
  }

  private async dueMiners(): Promise<Due[]> {
    const rows = await this.o.sql<{ miner: string; balance: string }[]>`
      SELECT e.miner, sum(e.amount_stroops)::text AS balance FROM balance_entries e
      GROUP BY e.miner HAVING sum(e.amount_stroops) >= ${this.o.thresholdStroops}
      ORDER BY EXISTS (SELECT 1 FROM payout_skips s WHERE s.miner = e.miner AND s.at > now() - make_interval(secs => ${SKIP_REPEAT_SECONDS})),
               sum(e.amount_stroops) DESC, e.miner
      LIMIT ${this.o.duePerRunMax ?? DUE_MINERS_PER_RUN_MAX}`
    return rows.map((r) => ({ miner: r.miner, amountStroops: toBigInt(r.balance) }))
  }

  /** Farmer accounts with their KALE balance; a source with a pending payout waits (one sequence at a time). */
  private async availableSources(): Promise<Source[]> {
    const all = this.o.sources ? await this.o.sources() : (await this.o.sql<{ public_key: string }[]>`SELECT public_key FROM farmers WHERE status = 'active' ORDER BY public_key`).map((r) => r.public_key)
    const busy = new Set((await this.o.sql<{ source: string }[]>`SELECT DISTINCT source FROM payouts WHERE status = 'pending'`).map((r) => r.source))
    // A lane with a plant/work/harvest in flight is left for the next run: a payout
    // queued in front of a work could push it out of its window.
    const free = all.filter((s) => !busy.has(s) && !(this.o.chain.busy?.(s) ?? false))
    if (free.length === 0) return []
    const balances = await this.o.chain.balances(free)
    return free.map((publicKey) => ({ publicKey, availableStroops: balances.get(publicKey) ?? 0n }))
  }

  /**
   * Records why a miner was not paid, and tells its sessions — once per
   * SKIP_REPEAT_SECONDS per reason: an address without a trustline would
   * otherwise add a row and a message every run, for ever.
   */
  private async skip(miner: string, reason: string): Promise<void> {
    const added = await this.o.sql`
      INSERT INTO payout_skips (miner, reason) SELECT ${miner}, ${reason}
      WHERE NOT EXISTS (SELECT 1 FROM payout_skips WHERE miner = ${miner} AND reason = ${reason}
                          AND at > now() - make_interval(secs => ${SKIP_REPEAT_SECONDS}))
      RETURNING id`
    if (added.length === 0) return
    this.m.payoutsTotal.inc({ result: 'skipped' })
    this.log.info({ miner, reason }, 'payout skipped')
    try {
      this.o.onSkipped?.(miner, reason)
    } catch (err) {
      this.log.warn({ err }, 'onSkipped callback failed')
    }
  }

  /** Signs, commits, sends and follows one batch; null when nothing was committed. */
  private async pay(b: PlannedBatch): Promise<bigint | null> {
    if (this.o.chain.lanes && this.o.chain.payInLane) return this.payInLane(b)
    let signed: SignedPayment
    try {
      signed = await this.o.chain.build(b.source, paymentsOf(b), this.o.validSeconds ?? VALID_SECONDS)
    } catch (err) {
      // Nothing committed yet: this source's miners stay due; other sources still pay.
      this.log.warn({ source: b.source, err: err instanceof Error ? err.message : String(err) }, 'payout transaction could not be built')
      return null
    }
    const id = await this.commit(b, signed)
    if (id === null) return null
    const total = b.payments.reduce((a, p) => a + p.amountStroops, 0n)
    this.log.info({ id: String(id), hash: signed.hash, source: b.source, payments: b.payments.length, stroops: total.toString() }, 'payout committed')
    await this.o.hooks?.afterCommit?.(signed)
    const sent = await this.o.chain.send(signed.envelopeXdr).catch((err: unknown) => ({ status: 'error' as const, reason: err instanceof Error ? err.message : String(err) }))
    // Not sent (or not known to be): the next runs resend it or, once expired, reverse it.
    const notYet = sent.status === 'error' ? sent.reason : sent.status === 'try-again-later' ? 'try again later' : undefined
    await this.follow(id, signed, notYet === undefined ? undefined : { reason: notYet, what: 'payout not accepted yet; reconciled later' }, false)
    return total
  }

  /**
   * After the send: records why a committed payout is not through yet (if so),
   * then follows it by its hash for a while (the next runs reconcile the rest).
   * `settleFirst`: look before the first wait (the lane already waited for it).
   */
  private async follow(id: bigint, signed: SignedPayment, notYet: { reason: string; what: string } | undefined, settleFirst: boolean): Promise<void> {
    if (notYet) {
      const reason = notYet.reason.slice(0, REASON_CHARS_MAX)
      await this.o.sql`UPDATE payouts SET reason = ${reason}, updated_at = now() WHERE id = ${id} AND status = 'pending'`
      this.log.warn({ id: String(id), hash: signed.hash, reason }, notYet.what)
    }
    await this.o.hooks?.afterSend?.(signed)
    const pollAttempts = this.o.pollAttempts ?? POLL_ATTEMPTS
    const wait = () => new Promise((r) => setTimeout(r, this.o.pollMs ?? POLL_MS))
    for (let i = 0; i < pollAttempts; i++) {
      if (!settleFirst) await wait()
      const s = await this.settle(id, signed.hash, signed.envelopeXdr, signed.maxTime, false)
      if (s !== 'pending') break
      if (settleFirst) await wait()
    }
  }

  /**
   * As pay(), through the source's submitter lane: the submitter signs with the
   * lane's sequence number and calls back before sending, and the commit happens
   * there (still before anything is sent). One hash per payout row: should the
   * submitter want to re-sign (its first hash expired or was refused), the
   * callback refuses, so the row keeps the hash it was committed with and is
   * reconciled by that hash as before.
   */
  private async payInLane(b: PlannedBatch): Promise<bigint | null> {
    const payInLane = this.o.chain.payInLane!.bind(this.o.chain)
    const total = b.payments.reduce((a, p) => a + p.amountStroops, 0n)
    // filled by record() inside the submitter's lane
    const st: { id: bigint | null; signed?: SignedPayment; hookErr?: { err: unknown } } = { id: null }
    const record = async (p: SignedPayment, earlierMayApply: boolean): Promise<void> => {
      if (st.signed && st.id !== null) {
        // The earlier envelope was refused at send (stale sequence number, fee,
        // TRY_AGAIN_LATER): it can never apply, so the row follows the new one.
        if (earlierMayApply) throw new PoolError(ErrorCode.TX_REJECTED, 'payout not re-signed: reconciled by its first hash')
        const moved = await this.o.sql`
          UPDATE payouts SET tx_hash = ${p.hash}, envelope_xdr = ${p.envelopeXdr}, max_time = ${p.maxTime}, updated_at = now()
          WHERE id = ${st.id} AND status = 'pending' AND tx_hash = ${st.signed.hash} RETURNING id`
        if (moved.length !== 1) throw new PoolError(ErrorCode.TX_REJECTED, 'payout row changed meanwhile: not re-signed')
        st.signed = p
        return
      }
      const id = await this.commit(b, p)
      if (id === null) throw new PoolError(ErrorCode.TX_REJECTED, 'balances no longer cover the payout: nothing sent')
      st.id = id
      st.signed = p
      this.log.info({ id: String(id), hash: p.hash, source: b.source, payments: b.payments.length, stroops: total.toString() }, 'payout committed')
      try {
        await this.o.hooks?.afterCommit?.(p)
      } catch (err) {
        st.hookErr = { err }
        throw new PoolError(ErrorCode.INTERNAL, 'payout hook failed')
      }
    }
    let res: LanePayResult
    try {
      res = await payInLane(b.source, paymentsOf(b), this.o.validSeconds ?? VALID_SECONDS, record)
    } catch (err) {
      // Nothing signed (no signer, bad amount): this source's miners stay due.
      this.log.warn({ source: b.source, err: err instanceof Error ? err.message : String(err) }, 'payout transaction could not be built')
      return null
    }
    if (st.hookErr) throw st.hookErr.err
    const { id, signed: committed } = st
    if (id === null || committed === undefined) return null
    await this.follow(id, committed, res.status === 'failed' ? { reason: res.reason ?? 'failed', what: 'payout not applied yet; reconciled later' } : undefined, true)
    return total
  }

  /** The payout row, its entries and the debits, atomically; null if a balance no longer covers it. */
  private async commit(b: PlannedBatch, signed: SignedPayment): Promise<bigint | null> {
    const miners = b.payments.map((p) => p.miner)
    const amounts = b.payments.map((p) => p.amountStroops.toString())
    const total = b.payments.reduce((a, p) => a + p.amountStroops, 0n)
    return (await this.o.sql.begin(async (tx) => {
      // One payout writer at a time across processes: balances are checked and debited under it.
      await tx`SELECT pg_advisory_xact_lock(${PAYOUT_LOCK_KEY})`
      const short = await tx<{ miner: string }[]>`
        SELECT u.m AS miner FROM unnest(${miners}::text[], ${amounts}::int8[]) AS u (m, a)
        WHERE (SELECT coalesce(sum(amount_stroops), 0) FROM balance_entries WHERE miner = u.m) < u.a`
      if (short.length > 0) return null
      const [row] = await tx<{ id: bigint }[]>`
        INSERT INTO payouts (run_id, source, tx_hash, envelope_xdr, max_time, total_stroops, status)
        VALUES (${randomUUID()}, ${b.source}, ${signed.hash}, ${signed.envelopeXdr}, ${signed.maxTime}, ${total}, 'pending')
        RETURNING id`
      const id = row!.id
      await tx`INSERT INTO payout_entries (payout_id, miner, amount_stroops) SELECT ${id}, m, a FROM unnest(${miners}::text[], ${amounts}::int8[]) AS u (m, a)`
      await tx`
        INSERT INTO balance_entries (miner, amount_stroops, kind, cause, payout_id)
        SELECT m, -a, 'payout', 'payout:' || ${id}::text || ':' || m, ${id} FROM unnest(${miners}::text[], ${amounts}::int8[]) AS u (m, a)`
      return id
    })) as bigint | null
  }

  /** Looks a pending payout up and settles it when its fate is known. */
  private async settle(id: bigint, hash: string, envelopeXdr: string, maxTime: number, resend: boolean): Promise<'completed' | 'reversed' | 'pending'> {
    const found = await this.o.chain.lookup(hash)
    if (found.status === 'success') {
      const [r] = await this.o.sql<{ total: bigint; n: number }[]>`
        UPDATE payouts SET status = 'completed', reason = NULL, updated_at = now() WHERE id = ${id} AND status = 'pending'
        RETURNING total_stroops AS total, (SELECT count(*)::int FROM payout_entries WHERE payout_id = ${id}) AS n`
      if (r) {
        this.m.payoutsTotal.inc({ result: 'completed' }, r.n)
        this.m.payoutsStroopsTotal.inc(Number(r.total))
        this.log.info({ id: String(id), hash, ledger: found.ledger }, 'payout completed')
      }
      return 'completed'
    }
    if (found.status === 'failed') return (await this.reverse(id, 'failed', 'transaction failed on chain')) ? 'reversed' : 'pending'
    const validSeconds = this.o.validSeconds ?? VALID_SECONDS
    if (hasExpired(maxTime, found.latestCloseTime, found.oldestCloseTime, this.now(), this.o.expiryMarginSeconds ?? EXPIRY_MARGIN_SECONDS, validSeconds)) {
      return (await this.reverse(id, 'expired', 'transaction expired unapplied')) ? 'reversed' : 'pending'
    }
    // Not applied yet and still valid: the same envelope again is harmless.
    if (resend) await this.o.chain.send(envelopeXdr).catch(() => undefined)
    return 'pending'
  }

  /** Compensating entries give the debits back; the miners are due again next run. */
  private async reverse(id: bigint, status: 'failed' | 'expired', reason: string): Promise<boolean> {
    const done = (await this.o.sql.begin(async (tx) => {
      const [p] = await tx`UPDATE payouts SET status = ${status}, reason = ${reason}, updated_at = now() WHERE id = ${id} AND status = 'pending' RETURNING id`
      if (!p) return false
      await tx`
        INSERT INTO balance_entries (miner, amount_stroops, kind, cause, payout_id)
        SELECT miner, amount_stroops, 'reversal', 'reversal:' || ${id}::text || ':' || miner, ${id} FROM payout_entries WHERE payout_id = ${id}
        ON CONFLICT (cause) DO NOTHING`
      return true
    })) as boolean
    if (done) {
      this.m.payoutsTotal.inc({ result: status })
      this.log.warn({ id: String(id), status, reason }, 'payout reversed; re-queued')
    }
    return done
  }
}

/** pg_advisory_xact_lock key of payout commits: "paid". */
export const PAYOUT_LOCK_KEY = 0x70616964
