// Transactions to Stellar: simulate → assemble → sign → send → poll. One lane per
// source account (the network holds one pending transaction per source), lanes
// run in parallel up to concurrencyMax. Sequence numbers are cached per lane and
// reloaded in batches of ≤ 200 accounts; rollover races and txBadSeq are
// re-simulated and retried a bounded number of times.
import { createHash } from 'node:crypto'
import { xdr } from '@stellar/stellar-sdk'
import { PoolError, ErrorCode, isPoolError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics, ChainOpLabel } from '../metrics/metrics.js'
import { accountKey, contractErrorOf, decodeAccount, keyId } from './contract.js'
import type { LedgerClock } from './clock.js'
import type { NetworkInfo } from './network.js'
import { latestLedger, readEntries, LEDGER_KEYS_PER_REQUEST_MAX, type RpcClient } from './rpc.js'
import type { Signer } from './signer.js'
import { assembleTx, encodeTx, feeChargedOf, resourceFeeOf, signRawTx, unsignedEnvelope, type RawTx } from './envelope.js'

const ATTEMPTS_MAX = 4
const TRY_AGAIN_MAX = 5
const POLL_ATTEMPTS_MAX = 60
/** validity window of a transaction, in ledger seconds (≈ 12 ledgers) */
const TX_VALID_SECONDS = 60
const BASE_INCLUSION_FEE_STROOPS = 100
const REASON_CHARS_MAX = 160

/** Resource fee a simulation may ask when SubmitterOptions.feeResourceMaxStroops is not given: 1 XLM (a KALE invocation asks well under 0.1 XLM). */
export const FEE_RESOURCE_MAX_STROOPS_DEFAULT = 10_000_000

export interface SubmitterOptions {
  rpc: RpcClient
  net: NetworkInfo
  clock: LedgerClock
  log: Logger
  metrics?: Metrics | undefined
  concurrencyMax: number
  feeInclusionMaxStroops: number
  /**
   * Resource fee a simulation may ask, at most (FEE_RESOURCE_MAX_STROOPS; default
   * FEE_RESOURCE_MAX_STROOPS_DEFAULT). A faulty or hostile RPC answering a huge
   * resourceFee would have it signed and charged to the farmer account.
   */
  feeResourceMaxStroops?: number
  /** longest wait between two status polls of a pending transaction */
  pollMs: number
}

export interface TxRequest {
  source: Signer
  op: ChainOpLabel
  /** one contract invocation (simulated) … */
  invoke?: xdr.Operation
  /**
   * … or one built when the lane's turn comes, after the source's earlier
   * transactions ended: for an invocation whose arguments depend on state those
   * may change (a plant's stake on a balance a queued payout spends). A throw
   * ends the request 'failed' with nothing sent.
   */
  invokeLate?: () => Promise<xdr.Operation>
  /** … or classic operations (not simulated) */
  classic?: xdr.Operation[]
  /** further signers of classic operations with another source */
  cosigners?: Signer[]
  /**
   * Time bound (unix seconds) of each envelope, asked when it is built, instead
   * of the ledger time + TX_VALID_SECONDS (payouts: from the wall clock). A
   * function, not a number: a bound fixed when the request was queued had
   * passed by the time a lane busy for longer got to it (txTooLate every attempt).
   */
  maxTime?: () => number
  /**
   * Called with the hash right before sending: record it, so a crash leaves it checkable.
   * `sorobanData` is the simulated SorobanTransactionData as XDR bytes (parsed only by the caller that needs it).
   */
  onSend?: (hash: string, sorobanData: Buffer | undefined, signed: SignedEnvelope) => Promise<void>
}

/** The signed transaction handed to onSend: what a later resend needs. */
export interface SignedEnvelope {
  /** TransactionEnvelope, base64 */
  envelopeXdr: string
  /** time bound (unix seconds): it cannot apply after this */
  maxTime: number
  /**
   * An earlier envelope of this request was accepted (or its send's fate is
   * unknown) and judged expired: it might still apply where the network checks
   * time bounds differently (the devnet uses the wall clock). False when every
   * earlier envelope was refused at send (txBadSeq, fee, TRY_AGAIN_LATER) or applied as failed.
   */
  earlierMayApply: boolean
}

export type TxResult =
  | { status: 'success'; hash: string; ledger: number; feeStroops: bigint; returnValue: xdr.ScVal | undefined }
  | { status: 'contract-error'; code: number; hash: string | null; feeStroops: bigint }
  | { status: 'failed'; reason: string; hash: string | null; feeStroops: bigint }

export type HashStatus =
  | { status: 'success'; ledger: number; feeStroops: bigint; returnValue: xdr.ScVal | undefined }
  | { status: 'failed'; ledger: number; feeStroops: bigint }
  | { status: 'not-found'; expired: boolean }

interface Lane {
  seq: bigint | undefined
  queued: number
  /** Requests of this source that ended (any outcome). */
  ended: number
  tail: Promise<unknown>
}

/** sorobanMeta.returnValue of a TransactionMeta v3/v4, if any. */
function returnValueOf(metaB64: string | undefined): xdr.ScVal | undefined {
  if (typeof metaB64 !== 'string') return undefined
  const meta = xdr.TransactionMeta.fromXDR(metaB64, 'base64') as unknown as { type: string; v3?: { sorobanMeta: { returnValue: xdr.ScVal } | null }; v4?: { sorobanMeta: { returnValue: xdr.ScVal | null } | null } }
  if (meta.type === 'v3' || meta.type === 'transactionMetaV3') return meta.v3?.sorobanMeta?.returnValue ?? undefined
  if (meta.type === 'v4' || meta.type === 'transactionMetaV4') return meta.v4?.sorobanMeta?.returnValue ?? undefined
  return undefined
}

/** The raw simulateTransaction answer fields the submitter reads. */
interface RawSimulation {
  latestLedger: number
  error?: string
  transactionData?: string
  results?: Array<{ auth?: string[] }>
}

/** The raw sendTransaction answer fields the submitter reads. */
interface RawSend {
  status: string
  errorResultXdr?: string
  latestLedger: number
  latestLedgerCloseTime: string | number
}

/** The raw getTransaction answer fields the submitter reads. */
interface RawGetTransaction {
  status: string
  ledger?: number
  resultXdr?: string
  resultMetaXdr?: string
  latestLedger: number
  latestLedgerCloseTime: string | number
}

/** The TransactionResult code name (txBadSeq, …) of a rejected send's errorResultXdr. */
export function sendErrorCode(errorResultXdr: string | undefined): string {
  if (typeof errorResultXdr !== 'string') return 'unknown'
  const b = Buffer.from(errorResultXdr, 'base64')
  if (b.length < 12) return 'unknown'
  try {
    return xdr.TransactionResultCode.fromValue(b.readInt32BE(8)).name
  } catch {
    return 'unknown'
  }
}

/** Auth entries an invoke operation already carries (0 for any other operation). */
function opAuthCount(op: xdr.Operation): number {
  return op.body.type === 'invokeHostFunction' ? op.body.invokeHostFunctionOp.auth.length : 0
}

const clip = (s: string): string => (s.length > REASON_CHARS_MAX ? `${s.slice(0, REASON_CHARS_MAX)}…` : s)

/** The HTTP status of an RPC failure, if the server answered with one. */
function httpStatusOf(err: unknown): number | undefined {
  return isPoolError(err, ErrorCode.RPC_HTTP) ? Number(err.details.status) : undefined
}

export class Submitter {
  private readonly lanes = new Map<string, Lane>()
  private active = 0
  private readonly slotWaiters: Array<() => void> = []
  private inclusionFee: number
  private readonly seqWaiters = new Map<string, Array<{ resolve: () => void; reject: (e: unknown) => void }>>()
  private seqFlushScheduled = false
  /** transactions sent (for benchmarks) */
  sent = 0
  private halted = false
  private readonly networkId: Buffer

  constructor(private readonly o: SubmitterOptions) {
    this.networkId = createHash('sha256').update(o.net.networkPassphrase).digest()
    this.inclusionFee = Math.min(BASE_INCLUSION_FEE_STROOPS, o.feeInclusionMaxStroops)
  }

  /** Queues a transaction on its source's lane; resolves with its final outcome (never throws for chain outcomes). */
  submit(req: TxRequest): Promise<TxResult> {
    const lane = this.lane(req.source.publicKey)
    lane.queued++
    // The lane keeps one transaction per source in flight; a concurrency slot is
    // held only while building, simulating, signing and sending (see attempts).
    const run = lane.tail.then(() => this.run(lane, req)).finally(() => {
      lane.queued--
      lane.ended++
    })
    lane.tail = run.catch(() => undefined)
    return run
  }

  /**
   * Sends nothing more, as a killed process would: queued and running requests
   * end 'failed' before their next send. A hash handed to onSend whose record
   * was skipped is therefore never sent (nothing applies without its record).
   */
  halt(): void {
    this.halted = true
  }

  resume(): void {
    this.halted = false
  }

  /** True when the source has no transaction queued or in flight. */
  idle(publicKey: string): boolean {
    return (this.lanes.get(publicKey)?.queued ?? 0) === 0
  }

  /**
   * Requests of the source that ended so far: a caller that read the source's
   * state compares it at its turn (invokeLate) to learn whether a transaction of
   * the source ended in between.
   */
  ended(publicKey: string): number {
    return this.lanes.get(publicKey)?.ended ?? 0
  }

  /** Forgets a cached sequence number (the next transaction reloads it). */
  invalidate(publicKey: string): void {
    const lane = this.lanes.get(publicKey)
    if (lane) lane.seq = undefined
  }

  /** Loads sequence numbers of many accounts at once (≤ 200 keys per request). */
  async preload(publicKeys: readonly string[]): Promise<void> {
    await Promise.all(publicKeys.map((pk) => this.ensureSeq(pk, this.lane(pk)).catch(() => undefined)))
  }

  private lane(pk: string): Lane {
    let lane = this.lanes.get(pk)
    if (!lane) {
      lane = { seq: undefined, queued: 0, ended: 0, tail: Promise.resolve() }
      this.lanes.set(pk, lane)
    }
    return lane
  }

  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= this.o.concurrencyMax) await new Promise<void>((r) => this.slotWaiters.push(r))
    this.active++
    try {
      return await fn()
    } finally {
      this.active--
      this.slotWaiters.shift()?.()
    }
  }

  private ensureSeq(pk: string, lane: Lane): Promise<void> {
    if (lane.seq !== undefined) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const list = this.seqWaiters.get(pk) ?? []
      list.push({ resolve, reject })
      this.seqWaiters.set(pk, list)
      if (!this.seqFlushScheduled) {
        this.seqFlushScheduled = true
        setImmediate(() => void this.flushSeqLoads())
      }
    })
  }

  /** Everyone who needs a sequence number in this turn shares requests of ≤ 200 keys. */
  private async flushSeqLoads(): Promise<void> {
    this.seqFlushScheduled = false
    const waiting = [...this.seqWaiters.entries()]
    this.seqWaiters.clear()
    for (let i = 0; i < waiting.length; i += LEDGER_KEYS_PER_REQUEST_MAX) {
      const batch = waiting.slice(i, i + LEDGER_KEYS_PER_REQUEST_MAX)
      try {
        const keys = batch.map(([pk]) => accountKey(pk))
        const { entries, latestLedger } = await readEntries(this.o.rpc, keys)
        this.o.clock.observe(latestLedger)
        batch.forEach(([pk, ws], j) => {
          const e = entries.get(keyId(keys[j]!))
          if (!e) {
            for (const w of ws) w.reject(new PoolError(ErrorCode.NOT_FOUND, `account ${pk} does not exist`))
            return
          }
          this.lane(pk).seq = decodeAccount(e.val).seq
          for (const w of ws) w.resolve()
        })
      } catch (err) {
        for (const [, ws] of batch) for (const w of ws) w.reject(err)
      }
    }
  }

  private async ledgerTime(): Promise<number> {
    if (this.o.clock.closeTime > 0) return this.o.clock.closeTime
    const l = await latestLedger(this.o.rpc)
    this.o.clock.observe(l.sequence, l.closeTime)
    return this.o.clock.closeTime
  }

  private async build(pk: string, lane: Lane, req: TxRequest): Promise<{ tx: Buffer; seq: bigint; maxTime: number; inclusionFee: number }> {
    const ops = req.invoke ? [req.invoke] : req.classic ?? []
    const maxTime = req.maxTime ? req.maxTime() : (await this.ledgerTime()) + TX_VALID_SECONDS
    const seq = lane.seq! + 1n
    // The network wants at least the base fee per operation: the inclusion fee is
    // per operation (an invocation has one). It was ops × ops before, carried over
    // from TransactionBuilder's per-operation fee option: 0.1 XLM offered for 100 payments.
    const feeStroops = this.inclusionFee * Math.max(1, ops.length)
    return { tx: encodeTx(pk, seq, feeStroops, maxTime, ops), seq, maxTime, inclusionFee: feeStroops }
  }

  private async run(lane: Lane, req: TxRequest): Promise<TxResult> {
    const started = performance.now()
    // Halted: attempts() ends it before any send; invokeLate is not run (it may read the chain).
    const late = this.halted ? undefined : req.invokeLate
    const result = await (late ? late().then((invoke) => this.attempts(lane, { ...req, invoke, invokeLate: undefined })) : this.attempts(lane, req)).catch((err: unknown): TxResult => {
      const reason = err instanceof PoolError ? err.message : 'internal error'
      if (!(err instanceof PoolError)) this.o.log.error({ err, op: req.op }, 'submit failed unexpectedly')
      return { status: 'failed', reason: clip(reason), hash: null, feeStroops: 0n }
    })
    const m = this.o.metrics
    if (m) {
      m.chainTxTotal.inc({ op: req.op, result: result.status })
      m.chainTxSeconds.observe({ op: req.op }, (performance.now() - started) / 1000)
      if (result.feeStroops > 0n) m.chainFeesStroopsTotal.inc({ op: req.op }, Number(result.feeStroops))
    }
    return result
  }

  /**
   * Each attempt takes a concurrency slot only for the RPC-heavy part (build,
   * simulate, sign, send) and gives it back while polling for the outcome: a
   * slot held until the transaction applied let only concurrencyMax
   * transactions land per ledger (N works took ⌈N/concurrencyMax⌉ ledgers).
   */
  private async attempts(lane: Lane, req: TxRequest): Promise<TxResult> {
    const pk = req.source.publicKey
    let fees = 0n
    let lastHash: string | null = null
    let reason = 'no attempt'
    let earlierMayApply = false
    for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
      if (this.halted) return { status: 'failed', reason: 'submitter halted', hash: lastHash, feeStroops: fees }
      await this.ensureSeq(pk, lane)
      const step = await this.withSlot(() => this.prepareAndSend(lane, req, earlierMayApply))
      if (step.hash !== null) lastHash = step.hash
      if (step.kind === 'final') return { ...step.result, hash: lastHash, feeStroops: fees } as TxResult
      if (step.kind === 'retry') {
        reason = step.reason
        continue
      }
      const { tx, maxTime } = step
      const hash = tx.hash
      // Accepted (or unknown): the sequence number is consumed once it applies.
      const usedSeq = tx.seq
      const st = await this.waitFor(hash, maxTime, () => this.rebroadcast(tx))
      if (st.status === 'not-found') {
        lane.seq = undefined
        if (!st.expired) return { status: 'failed', reason: 'transaction outcome unknown', hash, feeStroops: fees }
        reason = 'transaction expired before it applied'
        earlierMayApply = true
        continue
      }
      lane.seq = usedSeq
      fees += st.feeStroops
      if (st.status === 'success') return { status: 'success', hash, ledger: st.ledger, feeStroops: fees, returnValue: st.returnValue }
      reason = 'transaction failed on apply'
      // A classic failure will fail again; a contract call is re-simulated (rollover races).
      if (!req.invoke) break
    }
    return { status: 'failed', reason, hash: lastHash, feeStroops: fees }
  }

  /** One attempt's build → simulate → sign → record → send (run inside a concurrency slot). */
  private async prepareAndSend(lane: Lane, req: TxRequest, earlierMayApply: boolean): Promise<
    | { kind: 'final'; hash: string | null; result: { status: 'contract-error'; code: number } | { status: 'failed'; reason: string } }
    | { kind: 'retry'; hash: string | null; reason: string }
    | { kind: 'sent'; hash: string; tx: RawTx; maxTime: number }
  > {
    const pk = req.source.publicKey
    const built = await this.build(pk, lane, req)
    const maxTime = built.maxTime
    let txBytes = built.tx
    let sorobanData: Buffer | undefined
    if (req.invoke) {
      const sim = await this.o.rpc.raw<RawSimulation>('simulateTransaction', { transaction: unsignedEnvelope(txBytes) })
      this.o.clock.observe(sim.latestLedger)
      if (typeof sim.error === 'string') {
        const code = contractErrorOf(sim.error, this.o.net.contractId)
        if (code !== undefined) return { kind: 'final', hash: null, result: { status: 'contract-error', code } }
        return { kind: 'final', hash: null, result: { status: 'failed', reason: clip(`simulation: ${sim.error}`) } }
      }
      if (typeof sim.transactionData !== 'string') throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'simulateTransaction: transactionData missing')
      const data = Buffer.from(sim.transactionData, 'base64')
      const resourceFee = resourceFeeOf(data)
      const feeMax = BigInt(this.o.feeResourceMaxStroops ?? FEE_RESOURCE_MAX_STROOPS_DEFAULT)
      if (resourceFee > feeMax) {
        return { kind: 'final', hash: null, result: { status: 'failed', reason: clip(`simulation asks a resource fee of ${resourceFee} stroops, above FEE_RESOURCE_MAX_STROOPS (${feeMax}): not signed`) } }
      }
      // As rpc.assembleTransaction: an operation that carries auth keeps it.
      const auth = opAuthCount(req.invoke) > 0 ? null : (sim.results?.[0]?.auth ?? []).map((a) => Buffer.from(a, 'base64'))
      txBytes = assembleTx(txBytes, built.inclusionFee, data, auth)
      sorobanData = data
    }
    const tx = signRawTx(this.networkId, txBytes, built.seq, [req.source, ...(req.cosigners ?? [])])
    const hash = tx.hash
    await req.onSend?.(hash, sorobanData, { envelopeXdr: tx.envelope, maxTime, earlierMayApply })
    if (this.halted) return { kind: 'final', hash, result: { status: 'failed', reason: 'submitter halted' } }
    const sent = await this.send(tx, hash)
    if (sent.kind === 'retry') {
      if (sent.reload) lane.seq = undefined
      return { kind: 'retry', hash, reason: sent.reason }
    }
    if (sent.kind === 'rejected') return { kind: 'final', hash, result: { status: 'failed', reason: sent.reason } }
    return { kind: 'sent', hash, tx, maxTime }
  }

  /**
   * Sends a freshly signed envelope and says what became of it. The RPC client's
   * own retries are off here: its resend of an envelope whose first answer was
   * lost (a timeout after the network took it) could answer txBadSeq because the
   * first had applied, and one lagging getTransaction then made that look like
   * "never applied" — a payout re-signed under a new sequence number paid twice.
   * So an answer is interpreted only while no earlier try of this envelope can
   * have reached the network: only HTTP 429 (rate limited) proves it did not. A
   * 503 may come from a proxy that forwarded it; a timeout or reset leaves it
   * unknown. After those the same envelope goes again (at once after an unknown
   * fate, a ledger later after a 503), and its hash decides whatever that answer says.
   */
  private async send(tx: RawTx, hash: string): Promise<{ kind: 'accepted' } | { kind: 'retry'; reason: string; reload: boolean } | { kind: 'rejected'; reason: string }> {
    let maybeSent = false
    let unknownOnce = false
    for (let i = 0; i < TRY_AGAIN_MAX; i++) {
      let res: RawSend
      try {
        res = await this.o.rpc.raw<RawSend>('sendTransaction', { transaction: tx.envelope }, false)
        this.sent++
      } catch (err) {
        const status = httpStatusOf(err)
        if (status === 429 || status === 503) {
          if (status === 503) maybeSent = true
          await this.o.clock.next(this.o.pollMs)
          continue
        }
        maybeSent = true
        if (unknownOnce) return { kind: 'accepted' }
        unknownOnce = true
        continue
      }
      this.o.clock.observe(res.latestLedger, Number(res.latestLedgerCloseTime))
      if (res.status === 'PENDING' || res.status === 'DUPLICATE') return { kind: 'accepted' }
      // An earlier try may be queued or applied (a resend of an applied envelope says txBadSeq): its hash decides.
      if (maybeSent) return { kind: 'accepted' }
      if (res.status === 'TRY_AGAIN_LATER') {
        await this.o.clock.next(this.o.pollMs)
        continue
      }
      const code = sendErrorCode(res.errorResultXdr)
      if (code === 'txBadSeq') {
        // Never sent before, so it cannot have applied; the lookup is a second opinion.
        const st = await this.status(hash)
        if (st.status !== 'not-found') return { kind: 'accepted' }
        return { kind: 'retry', reason: 'txBadSeq', reload: true }
      }
      if (code === 'txInsufficientFee') {
        const before = this.inclusionFee
        this.inclusionFee = Math.min(this.o.feeInclusionMaxStroops, this.inclusionFee * 2)
        if (this.inclusionFee === before) return { kind: 'rejected', reason: 'txInsufficientFee at FEE_INCLUSION_MAX_STROOPS' }
        return { kind: 'retry', reason: 'txInsufficientFee', reload: false }
      }
      if (code === 'txTooLate' || code === 'txTooEarly') return { kind: 'retry', reason: code, reload: false }
      return { kind: 'rejected', reason: `rejected: ${code}` }
    }
    // Out of tries: after one that may have reached the network the hash decides; else try a new envelope later.
    if (maybeSent) return { kind: 'accepted' }
    return { kind: 'retry', reason: 'TRY_AGAIN_LATER', reload: false }
  }

  /**
   * Sends the same signed envelope again (same hash, same sequence number: it
   * can apply at most once). A transaction the RPC accepted and then lost is
   * back in the queue for the next ledger instead of waiting out its validity
   * window; one still queued is a DUPLICATE. The answer is not needed: the
   * status poll decides.
   */
  private async rebroadcast(tx: RawTx): Promise<void> {
    if (this.halted) return
    try {
      const res = await this.o.rpc.raw<RawSend>('sendTransaction', { transaction: tx.envelope }, false)
      this.sent++
      this.o.clock.observe(res.latestLedger, Number(res.latestLedgerCloseTime))
    } catch {
      // the next ledger's poll (and rebroadcast) tries again
    }
  }

  /** One status read of a transaction hash. */
  async status(hash: string, maxTime?: number): Promise<HashStatus> {
    // The raw answer: the SDK's parsed form decodes the envelope and every event
    // too; only the fee and (for work/harvest) the return value are needed.
    const r = await this.o.rpc.raw<RawGetTransaction>('getTransaction', { hash })
    this.o.clock.observe(r.latestLedger, Number(r.latestLedgerCloseTime))
    if (r.status === 'SUCCESS' || r.status === 'FAILED') {
      if (typeof r.resultXdr !== 'string' || typeof r.ledger !== 'number') throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'getTransaction: result missing')
      const feeStroops = feeChargedOf(r.resultXdr)
      if (r.status === 'FAILED') return { status: 'failed', ledger: r.ledger, feeStroops }
      return { status: 'success', ledger: r.ledger, feeStroops, returnValue: returnValueOf(r.resultMetaXdr) }
    }
    return { status: 'not-found', expired: maxTime !== undefined && Number(r.latestLedgerCloseTime) > maxTime }
  }

  /**
   * Polls once per new ledger until the transaction applied or can no longer
   * apply; `resend` (if given) runs after each later poll that does not find it yet.
   */
  async waitFor(hash: string, maxTime: number, resend?: () => Promise<void>): Promise<HashStatus> {
    for (let i = 0; i < POLL_ATTEMPTS_MAX; i++) {
      await this.o.clock.next(this.o.pollMs)
      try {
        const st = await this.status(hash, maxTime)
        if (st.status !== 'not-found' || st.expired) return st
        // Still missing a ledger later: lost after acceptance (or still queued: then a DUPLICATE).
        // The first poll often comes before the close that applies it, so it does not resend.
        if (i > 0) await resend?.()
      } catch {
        // transient: the next ledger asks again
      }
    }
    return { status: 'not-found', expired: false }
  }
}
