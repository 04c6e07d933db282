// KALE payment transactions for payouts: read balances and trustlines, build and
// sign a classic payment transaction (no simulation needed), send it, look it up
// by hash. Signing happens before anything is sent, so the ledger can commit the
// exact hash first (ledger/payouts.ts). A signed envelope is safe to resend: the
// network applies one hash at most once.
//
// With a Submitter, payments go through the lane of their source account
// (payInLane): they serialize with that farmer's plant/work/harvest and share
// its cached sequence number. Sent beside the lane, a pending payout made the
// farmer's work TRY_AGAIN_LATER / txBadSeq inside its work window.
import { Account, Asset, Operation, StrKey, TransactionBuilder, type xdr } from '@stellar/stellar-sdk'
import { PoolError, ErrorCode } from '../errors.js'
import { readEntries, type RpcClient } from './rpc.js'
import { signTx, type Signer } from './signer.js'
import { splitAsset } from './network.js'
import { accountKey, decodeTrustline, decodeTrustlineBalance, keyId, trustlineKey, trustlineRoom } from './contract.js'
import type { Submitter } from './submitter.js'

/** Stellar allows 100 operations per transaction. */
export const PAYMENTS_PER_TX_MAX = 100
const BASE_FEE_STROOPS_PER_OP = 100
const STROOP_DIGITS = 7
const STROOPS_PER_UNIT = 10_000_000n
const INT64_MAX = (1n << 63n) - 1n

export interface Payment {
  destination: string
  amountStroops: bigint
}

export interface SignedPayment {
  source: string
  hash: string
  envelopeXdr: string
  /** time bound: invalid after this unix second */
  maxTime: number
}

export type TrustStatus = 'ok' | 'no-account' | 'no-trustline' | 'not-authorized'

/** Whether an address can receive KALE, and how much at most (op_line_full beyond that). */
export interface Trust {
  status: TrustStatus
  /** stroops its trustline can still take (0 unless 'ok'; the issuer: 2^63-1) */
  roomStroops: bigint
}

export type SendOutcome =
  | { status: 'pending' | 'duplicate' }
  | { status: 'try-again-later' }
  | { status: 'error'; reason: string }

export type Lookup =
  | { status: 'success'; ledger: number }
  | { status: 'failed'; ledger: number }
  /** close times (unix s) of the newest ledger and of the oldest the RPC still holds */
  | { status: 'not-found'; latestCloseTime: number; oldestCloseTime: number }

/** How a payment sent through the submitter's lane ended. */
export interface LanePayResult {
  status: 'success' | 'failed'
  /** the last hash signed (null when nothing was signed) */
  hash: string | null
  reason?: string
}

export interface PaymentsOptions {
  rpc: RpcClient
  networkPassphrase: string
  /** CODE:ISSUER */
  asset: string
  /** The farmer accounts' signers (secrets stay in the chain module). */
  signerOf: (publicKey: string) => Signer | undefined | Promise<Signer | undefined>
  feePerOpStroops?: number
  /** the chain's submitter: payments then go through their source's lane (payInLane) */
  submitter?: Submitter | undefined
  /** wall clock, unix ms (tests) */
  now?: () => number
}

/** stroops → the SDK's decimal amount string ("12.3456789"), exact. */
export function stroopsToAmount(stroops: bigint): string {
  if (stroops <= 0n || stroops > INT64_MAX) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'payment amount must be 1..2^63-1 stroops')
  return `${stroops / STROOPS_PER_UNIT}.${(stroops % STROOPS_PER_UNIT).toString().padStart(STROOP_DIGITS, '0')}`
}

export class KalePayments {
  readonly asset: Asset
  private readonly feePerOp: number
  private readonly now: () => number

  constructor(private readonly o: PaymentsOptions) {
    const [code, issuer] = splitAsset(o.asset)
    this.asset = new Asset(code, issuer)
    this.feePerOp = o.feePerOpStroops ?? BASE_FEE_STROOPS_PER_OP
    this.now = o.now ?? Date.now
  }

  /** KALE balances in stroops; accounts without a trustline are absent. */
  async balances(accounts: readonly string[]): Promise<Map<string, bigint>> {
    const keys = accounts.map((a) => trustlineKey(a, this.o.asset))
    const { entries } = await readEntries(this.o.rpc, keys)
    const out = new Map<string, bigint>()
    accounts.forEach((a, i) => {
      const e = entries.get(keyId(keys[i]!))
      if (e) out.set(a, decodeTrustlineBalance(e.val))
    })
    return out
  }

  /**
   * Whether each address can receive KALE and how much: the account exists, the
   * trustline exists, is authorized, and its limit leaves room. One address that
   * cannot take its amount fails a whole batched payment (op_line_full /
   * op_not_authorized) for everyone in it, every interval.
   */
  async trustlines(addresses: readonly string[]): Promise<Map<string, Trust>> {
    const out = new Map<string, Trust>()
    const none = (status: TrustStatus): Trust => ({ status, roomStroops: 0n })
    const valid = addresses.filter((a) => {
      if (StrKey.isValidEd25519PublicKey(a)) return true
      out.set(a, none('no-account'))
      return false
    })
    // the issuer holds no trustline to its own asset and can always receive it
    const need = valid.filter((a) => a !== this.asset.getIssuer())
    for (const a of valid) if (a === this.asset.getIssuer()) out.set(a, { status: 'ok', roomStroops: INT64_MAX })
    const keys = need.flatMap((a) => [accountKey(a), trustlineKey(a, this.o.asset)])
    const { entries } = await readEntries(this.o.rpc, keys)
    need.forEach((a, i) => {
      const line = entries.get(keyId(keys[2 * i + 1]!))
      if (!entries.has(keyId(keys[2 * i]!))) out.set(a, none('no-account'))
      else if (!line) out.set(a, none('no-trustline'))
      else {
        const t = decodeTrustline(line.val)
        out.set(a, t.authorized ? { status: 'ok', roomStroops: trustlineRoom(t) } : none('not-authorized'))
      }
    })
    return out
  }

  /**
   * What both ways of paying need: the source's signer, one payment operation per
   * payment (1..100) and the time bound, from the wall clock as the network (and the devnet) checks it.
   */
  private async prepare(source: string, payments: readonly Payment[], validSeconds: number): Promise<{ signer: Signer; ops: xdr.Operation[]; maxTime: () => number }> {
    if (payments.length === 0 || payments.length > PAYMENTS_PER_TX_MAX) throw new PoolError(ErrorCode.ARGUMENT_INVALID, `a payment transaction holds 1..${PAYMENTS_PER_TX_MAX} payments`)
    const signer = await this.o.signerOf(source)
    if (!signer) throw new PoolError(ErrorCode.SECRET_UNAVAILABLE, `no signer for payout source ${source}`)
    const ops = payments.map((p) => Operation.payment({ destination: p.destination, asset: this.asset, amount: stroopsToAmount(p.amountStroops) }))
    return { signer, ops, maxTime: () => Math.floor(this.now() / 1000) + validSeconds }
  }

  /** Builds and signs one payment transaction from `source` (≤ 100 payments), valid for `validSeconds`. */
  async build(source: string, payments: readonly Payment[], validSeconds: number): Promise<SignedPayment> {
    const { signer, ops, maxTime: bound } = await this.prepare(source, payments, validSeconds)
    const account = await this.o.rpc.call('getAccount', (s) => s.getAccount(source))
    const maxTime = bound()
    const builder = new TransactionBuilder(new Account(source, account.sequenceNumber()), {
      fee: String(this.feePerOp),
      networkPassphrase: this.o.networkPassphrase,
      timebounds: { minTime: 0, maxTime },
    })
    for (const op of ops) builder.addOperation(op)
    const tx = builder.build()
    signTx(tx, signer)
    return { source, hash: Buffer.from(tx.hash()).toString('hex'), envelopeXdr: tx.toEnvelope().toXDR('base64'), maxTime }
  }

  /** True when a submitter lane is present and this source has a transaction queued or in flight there. */
  busy(source: string): boolean {
    return this.o.submitter !== undefined && !this.o.submitter.idle(source)
  }

  /** The lane reloads its sequence number (a payout envelope was resent beside it). */
  invalidate(source: string): void {
    this.o.submitter?.invalidate(source)
  }

  /** Whether payInLane can be used (a submitter was given). */
  get lanes(): boolean {
    return this.o.submitter !== undefined
  }

  /**
   * Pays through the submitter's lane of `source`: the submitter builds the
   * transaction with the lane's sequence number and calls `record` with every
   * signed envelope right before sending it (record may throw: nothing is sent);
   * `earlierMayApply` says whether an envelope recorded before might still apply.
   * Time bound from the wall clock when each envelope is built, as build() (the network and the devnet check it).
   */
  async payInLane(source: string, payments: readonly Payment[], validSeconds: number, record: (p: SignedPayment, earlierMayApply: boolean) => Promise<void>): Promise<LanePayResult> {
    const submitter = this.o.submitter
    if (!submitter) throw new PoolError(ErrorCode.INTERNAL, 'payInLane needs a submitter')
    const { signer, ops, maxTime } = await this.prepare(source, payments, validSeconds)
    const r = await submitter.submit({
      source: signer,
      op: 'payout',
      classic: ops,
      maxTime,
      onSend: (hash, _data, signed) => record({ source, hash, envelopeXdr: signed.envelopeXdr, maxTime: signed.maxTime }, signed.earlierMayApply),
    })
    if (r.status === 'success') return { status: 'success', hash: r.hash }
    return { status: 'failed', hash: r.hash, reason: r.status === 'failed' ? r.reason : `contract error #${r.code}` }
  }

  /** Sends a signed envelope once (no retry here: the caller reconciles by hash). */
  async send(envelopeXdr: string): Promise<SendOutcome> {
    const tx = TransactionBuilder.fromXDR(envelopeXdr, this.o.networkPassphrase)
    const r = await this.o.rpc.call('sendTransaction', (s) => s.sendTransaction(tx), false)
    switch (r.status) {
      case 'PENDING':
        return { status: 'pending' }
      case 'DUPLICATE':
        return { status: 'duplicate' }
      case 'TRY_AGAIN_LATER':
        return { status: 'try-again-later' }
      default: {
        return { status: 'error', reason: String(r.errorResult?.result.type ?? 'rejected') }
      }
    }
  }

  async lookup(hash: string): Promise<Lookup> {
    const r = await this.o.rpc.call('getTransaction', (s) => s.getTransaction(hash))
    if (r.status === 'SUCCESS') return { status: 'success', ledger: r.ledger }
    if (r.status === 'FAILED') return { status: 'failed', ledger: r.ledger }
    return { status: 'not-found', latestCloseTime: Number(r.latestLedgerCloseTime), oldestCloseTime: Number(r.oldestLedgerCloseTime ?? 0) }
  }
}
