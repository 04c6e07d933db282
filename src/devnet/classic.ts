// Classic operations the pool uses: createAccount, changeTrust (the KALE asset),
// payment (XLM and KALE). Each runs on a Scratch and returns its OperationResult;
// a failed result makes the caller discard the whole transaction's overlay.
import { xdr, Asset, type Operation } from '@stellar/stellar-sdk'
import { minBalance, type AccountState, type Scratch, TRUSTLINE_LIMIT_MAX } from './state.js'
import type { Ids } from './xdr.js'

export interface OpOutcome {
  ok: boolean
  result: xdr.OperationResult
  /** accounts created, for the transaction meta (friendbot clients read the new seqNum) */
  created?: Array<[string, AccountState]>
}

const Tr = xdr.OperationResultTr
const inner = (r: xdr.OperationResultTr, ok: boolean): OpOutcome => ({ ok, result: xdr.OperationResult.opInner(r) })

export const toStroops = (amount: string): bigint => {
  const [whole, frac = ''] = amount.split('.')
  return BigInt(whole!) * 10_000_000n + BigInt(frac.padEnd(7, '0').slice(0, 7))
}

/** XLM spendable above the reserve. */
export const available = (a: AccountState): bigint => a.balance - minBalance(a.subentries)

export function isKale(asset: Asset, ids: Ids): boolean {
  return !asset.isNative() && asset.getCode() === 'KALE' && asset.getIssuer() === ids.issuer
}

export function applyClassic(s: Scratch, anyOp: Operation, source: string, ids: Ids): OpOutcome {
  const op = anyOp as Operation.CreateAccount | Operation.ChangeTrust | Operation.Payment
  const src = s.getAccount(source)
  if (!src) return { ok: false, result: xdr.OperationResult.opNoAccount() }
  switch (op.type) {
    case 'createAccount': {
      const R = xdr.CreateAccountResult
      const amount = toStroops(op.startingBalance)
      if (amount <= 0n || op.destination === source) return inner(Tr.createAccount(R.createAccountMalformed()), false)
      if (s.getAccount(op.destination)) return inner(Tr.createAccount(R.createAccountAlreadyExist()), false)
      if (amount < minBalance(0)) return inner(Tr.createAccount(R.createAccountLowReserve()), false)
      if (available(src) < amount) return inner(Tr.createAccount(R.createAccountUnderfunded()), false)
      src.balance -= amount
      const created: AccountState = { balance: amount, seq: BigInt(s.ledger) << 32n, subentries: 0, modified: s.ledger }
      s.putAccount(op.destination, created)
      return { ...inner(Tr.createAccount(R.createAccountSuccess()), true), created: [[op.destination, { ...created }]] }
    }
    case 'changeTrust': {
      const R = xdr.ChangeTrustResult
      const line = op.line
      if (!(line instanceof Asset) || line.isNative()) return inner(Tr.changeTrust(R.changeTrustMalformed()), false)
      if (!isKale(line, ids)) return inner(Tr.changeTrust(R.changeTrustNoIssuer()), false)
      if (source === ids.issuer) return inner(Tr.changeTrust(R.changeTrustSelfNotAllowed()), false)
      const limit = op.limit === undefined ? TRUSTLINE_LIMIT_MAX : toStroops(op.limit)
      const t = s.getTrust(source)
      if (limit === 0n) {
        if (!t) return inner(Tr.changeTrust(R.changeTrustTrustLineMissing()), false)
        if (t.balance > 0n) return inner(Tr.changeTrust(R.changeTrustInvalidLimit()), false)
        s.removeTrust(source)
        src.subentries -= 1
        return inner(Tr.changeTrust(R.changeTrustSuccess()), true)
      }
      if (t) {
        if (limit < t.balance) return inner(Tr.changeTrust(R.changeTrustInvalidLimit()), false)
        s.setTrust(source, { ...t, limit })
        return inner(Tr.changeTrust(R.changeTrustSuccess()), true)
      }
      if (src.balance < minBalance(src.subentries + 1)) return inner(Tr.changeTrust(R.changeTrustLowReserve()), false)
      src.subentries += 1
      s.setTrust(source, { balance: 0n, limit, modified: s.ledger })
      return inner(Tr.changeTrust(R.changeTrustSuccess()), true)
    }
    case 'payment':
      return payment(s, src, source, op.destination, op.asset, toStroops(op.amount), ids)
    default:
      return { ok: false, result: xdr.OperationResult.opNotSupported() }
  }
}

function payment(s: Scratch, src: AccountState, source: string, dest: string, asset: Asset, amount: bigint, ids: Ids): OpOutcome {
  const R = xdr.PaymentResult
  const out = (r: xdr.PaymentResult, ok: boolean) => inner(Tr.payment(r), ok)
  if (amount <= 0n) return out(R.paymentMalformed(), false)
  if (asset.isNative()) {
    const d = s.getAccount(dest)
    if (!d) return out(R.paymentNoDestination(), false)
    if (available(src) < amount) return out(R.paymentUnderfunded(), false)
    src.balance -= amount
    d.balance += amount
    return out(R.paymentSuccess(), true)
  }
  if (!isKale(asset, ids)) return out(R.paymentNoIssuer(), false)
  if (!s.getAccount(dest)) return out(R.paymentNoDestination(), false)
  if (source !== ids.issuer) {
    const st = s.getTrust(source)
    if (!st) return out(R.paymentSrcNoTrust(), false)
    if (st.balance < amount) return out(R.paymentUnderfunded(), false)
    s.setTrust(source, { ...st, balance: st.balance - amount })
  }
  if (dest !== ids.issuer) {
    const dt = s.getTrust(dest)
    if (!dt) return out(R.paymentNoTrust(), false)
    if (dt.limit - dt.balance < amount) return out(R.paymentLineFull(), false)
    s.setTrust(dest, { ...dt, balance: dt.balance + amount })
  }
  return out(R.paymentSuccess(), true)
}
