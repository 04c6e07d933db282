// Transactions: admission at sendTransaction (decode once, signatures, sequence,
// fees, balance — what stellar-core checks before queueing) and application at
// the next ledger close (consume the sequence number, charge the fee, run the
// operations on an overlay that commits only if every operation succeeds).
import { xdr, StrKey, TransactionBuilder, FeeBumpTransaction, Transaction, type Operation } from '@stellar/stellar-sdk'
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
  /** the inner transaction (the fee-bump's inner one when bumped) */
  tx: Transaction
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

/** Decodes an envelope; throws on malformed input (the RPC answers invalid params). */
export function decodeEnvelope(b64: string, passphrase: string): { tx: Transaction; outer: Transaction | FeeBumpTransaction; hash: string } {
  const outer = TransactionBuilder.fromXDR(b64, passphrase)
  const tx = outer instanceof FeeBumpTransaction ? outer.innerTransaction : outer
  return { tx, outer, hash: Buffer.from(outer.hash()).toString('hex') }
}

function signedBy(t: Transaction | FeeBumpTransaction, account: string): boolean {
  const hint = Buffer.from(account === '' ? [] : accountHint(account))
  const h = t.hash()
  for (const sig of t.signatures) {
    if (!Buffer.from(sig.hint.toBytes()).equals(hint)) continue
    if (verifyEd25519(account, h, sig.signature.toBytes())) return true
  }
  return false
}

function accountHint(account: string): Uint8Array {
  return rawKey(account).subarray(28, 32)
}

const rawKeys = new Map<string, Uint8Array>()
function rawKey(account: string): Uint8Array {
  let k = rawKeys.get(account)
  if (!k) {
    k = new Uint8Array(Buffer.from(xdrKey(account)))
    if (rawKeys.size > 100_000) rawKeys.clear()
    rawKeys.set(account, k)
  }
  return k
}

const xdrKey = (g: string) => StrKey.decodeEd25519PublicKey(g)

function sorobanDataOf(tx: Transaction): xdr.SorobanTransactionData | null {
  const env = tx.toEnvelope()
  const ext = env.type === 'envelopeTypeTx' ? env.v1.tx.ext : null
  return ext && ext.type === 'sorobanData' ? ext.sorobanData : null
}

/** stellar-core's checks before a transaction enters the queue. */
export function admit(
  ctx: ChainCtx,
  b64: string,
  pendingBySource: Map<string, PendingTx>,
  decoded: ReturnType<typeof decodeEnvelope> = decodeEnvelope(b64, ctx.ids.passphrase),
): Admission | { ok: false; code: 'TRY_AGAIN_LATER' } | { ok: false; code: 'DUPLICATE'; hash: string } {
  const { tx, outer, hash } = decoded
  const source = tx.source
  const feeSource = outer instanceof FeeBumpTransaction ? outer.feeSource : source
  const fee = BigInt(outer.fee)
  const soroban = sorobanDataOf(tx)
  const resourceFee = soroban ? BigInt(soroban.resourceFee.toString()) : 0n
  const ops = tx.operations.length
  const reject = (code: TxCode): Admission => ({ ok: false, code, fee: BASE_FEE_STROOPS * BigInt(Math.max(ops, 1)) })
  const pending = pendingBySource.get(source)
  if (pending?.hash === hash) return { ok: false, code: 'DUPLICATE', hash }
  if (ops === 0) return reject('txMissingOperation')
  if (ops > OPS_PER_TX_MAX) return reject('txMalformed')
  const isSoroban = tx.operations.some((o) => o.type === 'invokeHostFunction')
  if (isSoroban && (ops !== 1 || !soroban)) return reject('txSorobanInvalid')
  const account = ctx.state.accounts.get(source)
  if (!account || !ctx.state.accounts.get(feeSource)) return reject('txNoAccount')
  if (pending || (feeSource !== source && pendingBySource.has(feeSource))) return { ok: false, code: 'TRY_AGAIN_LATER' }
  if (BigInt(tx.sequence) !== account.seq + 1n) return reject('txBadSeq')
  if (!signedBy(tx, source)) return reject('txBadAuth')
  if (feeSource !== source && !signedBy(outer, feeSource)) return reject('txBadAuth')
  for (const op of tx.operations) if (op.source && op.source !== source && !signedBy(tx, op.source)) return reject('txBadAuth')
  const inclusionMin = BASE_FEE_STROOPS * BigInt(ops + (feeSource !== source ? 1 : 0))
  if (fee - resourceFee < inclusionMin) return reject('txInsufficientFee')
  if (soroban) {
    const fp = soroban.resources.footprint
    if (resourceFee < resourceFeeFor(fp.readOnly.length, fp.readWrite.length)) return reject('txInsufficientFee')
  }
  const payer = ctx.state.accounts.get(feeSource)!
  if (payer.balance - fee < minBalance(payer.subentries)) return reject('txInsufficientBalance')
  const maxTime = tx.timeBounds?.maxTime
  // Time bounds are checked against the wall clock: with a fast --ledger-ms the
  // ledger time runs ahead of real time, and clients set timeouts from their clock.
  const now = Math.min(ctx.state.closeTime, Math.floor(Date.now() / 1000))
  if (maxTime && maxTime !== '0' && BigInt(maxTime) < BigInt(now)) return reject('txTooLate')
  return { ok: true, tx: { hash, envelopeXdr: b64, tx, feeBump: feeSource !== source, source, feeSource, seq: BigInt(tx.sequence), fee, resourceFee, soroban } }
}

/** Applies one admitted transaction in ledger `ledger` (closing at `time`). */
export function applyTx(ctx: ChainCtx, p: PendingTx, ledger: number, time: number, order: number): TxRecord {
  const { state } = ctx
  const base = { hash: p.hash, ledger, createdAt: time, applicationOrder: order, feeBump: p.feeBump, envelopeXdr: p.envelopeXdr }
  const account = state.accounts.get(p.source)
  const payer = state.accounts.get(p.feeSource)
  const ops = p.tx.operations.length
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
    for (const op of p.tx.operations) {
      const o = applyClassic(s, op as Operation, op.source ?? p.source, ctx.ids)
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
  const op = p.tx.operations[0] as Operation.InvokeHostFunction
  try {
    const call = decodeCall(op.func, ctx.ids)
    checkAuth(call, op.auth ?? [], p.source, ctx.ids, ledger, ctx.state.authNonces)
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
