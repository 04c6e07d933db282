// Transactions: admission at sendTransaction (decode once, signatures, sequence,
// fees, balance — what stellar-core checks before queueing) and application at
// the next ledger close (consume the sequence number, charge the fee, run the
// operations on an overlay that commits only if every operation succeeds).
import { xdr, StrKey } from '@stellar/stellar-sdk'
import { decodeEnvelope, classicOp, invokeOf, type Envelope } from './envelope.js'
import { Scratch, minBalance, BASE_FEE_STROOPS, type LedgerState } from './state.js'
import { applyClassic, type OpOutcome } from './classic.js'
import { decodeCall, runCall, checkAuth, verifyEd25519, resourceFeeFor, footprintOf, HostError } from './invoke.js'
import { ContractError } from './contract.js'
import { txResult, invokeResult, type Ids, type TxCode, type XdrBuilder } from './xdr.js'

export const OPS_PER_TX_MAX = 100

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b)

export interface PendingTx {
  hash: string
  envelopeXdr: string
  /** operations of the inner transaction (the fee-bump's inner one when bumped) */
  operations: xdr.Operation[]
  /** each operation's own source, null when it has none */
  opSources: Array<string | null>
  feeBump: boolean
  source: string
  feeSource: string
  seq: bigint
  /** total fee the envelope offers, stroops */
  fee: bigint
  resourceFee: bigint
  soroban: xdr.SorobanTransactionData | null
  /** set by fault injection: accepted as PENDING, never applied */
  dropped?: boolean
}

export interface TxRecord {
  hash: string
  status: 'SUCCESS' | 'FAILED'
  ledger: number
  createdAt: number
  applicationOrder: number
  feeBump: boolean
  envelopeXdr: string
  result: xdr.TransactionResult
  returnValue: xdr.ScVal | null
  opOutcomes: OpOutcome[]
  /** "HostError: Error(Contract, #N)" when a contract call failed */
  error?: string
}

export interface ChainCtx {
  state: LedgerState
  ids: Ids
  b: XdrBuilder
  tempTtlLedgers: number
}

export type Admission = { ok: true; tx: PendingTx } | { ok: false; code: TxCode; fee: bigint }

/** Whether `sigs` hold a valid signature of `hash` by `account`. */
function signedBy(hash: Uint8Array, sigs: readonly xdr.DecoratedSignature[], account: string): boolean {
  const hint = accountHint(account)
  if (!hint) return false
  for (const sig of sigs) {
    const h = sig.hint.toBytes()
    if (h.length !== 4 || h[0] !== hint[0] || h[1] !== hint[1] || h[2] !== hint[2] || h[3] !== hint[3]) continue
    if (verifyEd25519(account, hash, sig.signature.toBytes())) return true
  }
  return false
}

const hints = new Map<string, Uint8Array | null>()
/** Last 4 bytes of a G… key (null for anything else, e.g. M… addresses, which never match a signature here). */
function accountHint(account: string): Uint8Array | null {
  let h = hints.get(account)
  if (h === undefined) {
    h = StrKey.isValidEd25519PublicKey(account) ? StrKey.decodeEd25519PublicKey(account).subarray(28, 32) : null
    if (hints.size > 100_000) hints.clear()
    hints.set(account, h)
  }
  return h
}

/** stellar-core's checks before a transaction enters the queue. */
export function admit(
  ctx: ChainCtx,
  b64: string,
  pendingBySource: Map<string, PendingTx>,
  decoded: Envelope = decodeEnvelope(b64, ctx.ids.networkId),
): Admission | { ok: false; code: 'TRY_AGAIN_LATER' } | { ok: false; code: 'DUPLICATE'; hash: string } {
  const { hash, source, feeSource, fee, soroban, operations } = decoded
  const resourceFee = soroban ? BigInt(soroban.resourceFee.toString()) : 0n
  const ops = operations.length
  const reject = (code: TxCode): Admission => ({ ok: false, code, fee: BASE_FEE_STROOPS * BigInt(Math.max(ops, 1)) })
  const pending = pendingBySource.get(source)
  if (pending?.hash === hash) return { ok: false, code: 'DUPLICATE', hash }
  if (ops === 0) return reject('txMissingOperation')
  if (ops > OPS_PER_TX_MAX) return reject('txMalformed')
  const isSoroban = operations.some((o) => o.body.type === 'invokeHostFunction')
  if (isSoroban && (ops !== 1 || !soroban)) return reject('txSorobanInvalid')
  const account = ctx.state.accounts.get(source)
  if (!account || !ctx.state.accounts.get(feeSource)) return reject('txNoAccount')
  if (pending || (feeSource !== source && pendingBySource.has(feeSource))) return { ok: false, code: 'TRY_AGAIN_LATER' }
  if (decoded.seq !== account.seq + 1n) return reject('txBadSeq')
  if (!signedBy(decoded.innerHash, decoded.innerSignatures, source)) return reject('txBadAuth')
  if (feeSource !== source && !signedBy(decoded.outerHash, decoded.outerSignatures, feeSource)) return reject('txBadAuth')
  for (const opSource of decoded.opSources) {
    if (opSource && opSource !== source && !signedBy(decoded.innerHash, decoded.innerSignatures, opSource)) return reject('txBadAuth')
  }
  const inclusionMin = BASE_FEE_STROOPS * BigInt(ops + (feeSource !== source ? 1 : 0))
  if (fee - resourceFee < inclusionMin) return reject('txInsufficientFee')
  if (soroban) {
    const fp = soroban.resources.footprint
    if (resourceFee < resourceFeeFor(fp.readOnly.length, fp.readWrite.length)) return reject('txInsufficientFee')
  }
  const payer = ctx.state.accounts.get(feeSource)!
  if (payer.balance - fee < minBalance(payer.subentries)) return reject('txInsufficientBalance')
  const maxTime = decoded.maxTime
  // Time bounds are checked against the wall clock: with a fast --ledger-ms the
  // ledger time runs ahead of real time, and clients set timeouts from their clock.
  const now = Math.min(ctx.state.closeTime, Math.floor(Date.now() / 1000))
  if (maxTime !== null && maxTime !== 0n && maxTime < BigInt(now)) return reject('txTooLate')
  const tx: PendingTx = { hash, envelopeXdr: b64, operations, opSources: decoded.opSources, feeBump: feeSource !== source, source, feeSource, seq: decoded.seq, fee, resourceFee, soroban }
  return { ok: true, tx }
}

/** Applies one admitted transaction in ledger `ledger` (closing at `time`). */
export function applyTx(ctx: ChainCtx, p: PendingTx, ledger: number, time: number, order: number): TxRecord {
  const { state } = ctx
  const base = { hash: p.hash, ledger, createdAt: time, applicationOrder: order, feeBump: p.feeBump, envelopeXdr: p.envelopeXdr }
  const account = state.accounts.get(p.source)
  const payer = state.accounts.get(p.feeSource)
  const ops = p.operations.length
  if (!account || !payer || account.seq + 1n !== p.seq) {
    return { ...base, status: 'FAILED', result: txResult(0n, account ? 'txBadSeq' : 'txNoAccount'), returnValue: null, opOutcomes: [] }
  }
  account.seq = p.seq
  account.modified = ledger
  // Like the network: the full fee (inclusion + declared resource fee) is taken
  // before the operations run; the unused resource fee is refunded afterwards.
  const inclusion = BASE_FEE_STROOPS * BigInt(ops + (p.feeBump ? 1 : 0))
  const upfront = min(inclusion + p.resourceFee, payer.balance)
  payer.balance -= upfront
  payer.modified = ledger
  const s = new Scratch(state, ledger, BigInt(time), ctx.tempTtlLedgers)
  let outcomes: OpOutcome[] = []
  let ok = true
  let returnValue: xdr.ScVal | null = null
  let error: string | undefined
  let resourceCharged = 0n
  if (p.soroban) {
    const r = applyInvoke(ctx, s, p, ledger)
    ok = r.ok
    returnValue = r.returnValue
    error = r.error
    resourceCharged = r.ok ? (r.resourceFee < p.resourceFee ? r.resourceFee : p.resourceFee) : p.resourceFee
    outcomes = [{ ok, result: invokeResult(ok, returnValue ?? undefined) }]
  } else {
    for (let i = 0; i < p.operations.length; i++) {
      const o = applyClassic(s, classicOp(p.operations[i]!), p.opSources[i] ?? p.source, ctx.ids)
      outcomes.push(o)
      if (!o.ok) ok = false
    }
  }
  if (ok) s.commit()
  const feeCharged = min(inclusion + resourceCharged, upfront)
  const refund = upfront - feeCharged
  if (refund > 0n) state.accounts.get(p.feeSource)!.balance += refund
  state.feePool += feeCharged
  const result = txResult(feeCharged, ok ? 'txSuccess' : 'txFailed', outcomes.map((o) => o.result))
  return { ...base, status: ok ? 'SUCCESS' : 'FAILED', result, returnValue, opOutcomes: outcomes, ...(error ? { error } : {}) }
}

function applyInvoke(ctx: ChainCtx, s: Scratch, p: PendingTx, ledger: number): { ok: boolean; returnValue: xdr.ScVal | null; resourceFee: bigint; error?: string } {
  const op = invokeOf(p.operations[0])
  try {
    const call = decodeCall(op?.func, ctx.ids)
    checkAuth(call, op?.auth ?? [], p.source, ctx.ids, ledger, ctx.state.authNonces)
    const value = runCall(s, call)
    const fp = footprintOf(s)
    const declared = p.soroban!.resources.footprint
    const rw = new Set(declared.readWrite.map((k) => ctx.b.keyId(k)))
    const ro = new Set(declared.readOnly.map((k) => ctx.b.keyId(k)))
    for (const k of fp.readWrite) if (!rw.has(k)) throw new HostError('Error(Storage, ExceededLimit)')
    for (const k of fp.readOnly) if (!rw.has(k) && !ro.has(k)) throw new HostError('Error(Storage, ExceededLimit)')
    return { ok: true, returnValue: value, resourceFee: resourceFeeFor(fp.readOnly.length, fp.readWrite.length) }
  } catch (err) {
    if (err instanceof ContractError) return { ok: false, returnValue: null, resourceFee: 0n, error: `HostError: ${err.message}` }
    if (err instanceof HostError) return { ok: false, returnValue: null, resourceFee: 0n, error: `HostError: ${err.detail}` }
    throw err
  }
}
