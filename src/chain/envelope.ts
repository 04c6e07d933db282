// Transactions as raw XDR bytes (STELLAR.md): the SDK's Transaction class
// re-encodes and re-decodes the whole transaction on every hash, signature and
// send (and verifies each signature in JavaScript); the pool only ever needs the
// bytes. Layouts used here (XDR, big-endian):
//   Transaction  = source(4+32) fee(u32) seq(i64) cond memo ops<> ext
//   ext          = u32 0 | u32 1 SorobanTransactionData   (always last)
//   invoke op    = … auth<SorobanAuthorizationEntry>       (always last in the op)
//   SorobanTransactionData ends with resourceFee (i64)
//   envelope     = u32 ENVELOPE_TYPE_TX(2) Transaction signatures<DecoratedSignature>
//   hash         = sha256(networkId ‖ u32 ENVELOPE_TYPE_TX ‖ Transaction)
import { createHash } from 'node:crypto'
import { StrKey, xdr } from '@stellar/stellar-sdk'
import { PoolError, ErrorCode } from '../errors.js'
import type { Signer } from './signer.js'

const ENVELOPE_TYPE_TX = 2
const FEE_OFFSET_BYTES = 36
const EXT_V0_BYTES = 4
const AUTH_COUNT_BYTES = 4
const RESOURCE_FEE_BYTES = 8
const SIGNATURE_BYTES = 64
const UINT32_MAX = 0xffffffff

const u32 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32BE(n)
  return b
}

/** A transaction ready to send: its envelope (base64), hash (hex) and sequence number. */
export interface RawTx {
  /** Transaction XDR (no envelope) */
  tx: Buffer
  hash: string
  envelope: string
  seq: bigint
}

/** Encodes a transaction with timebounds [0, maxTime], no memo, ext v0. */
export function encodeTx(publicKey: string, seq: bigint, feeStroops: number, maxTime: number, ops: readonly xdr.Operation[]): Buffer {
  if (!Number.isInteger(feeStroops) || feeStroops < 0 || feeStroops > UINT32_MAX) throw new PoolError(ErrorCode.INTERNAL, `fee ${feeStroops} is not a u32`)
  const tx = new xdr.Transaction({
    sourceAccount: xdr.MuxedAccount.keyTypeEd25519(StrKey.decodeEd25519PublicKey(publicKey)),
    fee: feeStroops,
    seqNum: seq,
    cond: xdr.Preconditions.precondTime(new xdr.TimeBounds({ minTime: 0n, maxTime: BigInt(maxTime) })),
    memo: xdr.Memo.memoNone(),
    operations: [...ops],
    ext: xdr.TransactionExt.v0(),
  })
  return Buffer.from(tx.toXDR())
}

/** The unsigned envelope (what simulateTransaction takes). */
export function unsignedEnvelope(tx: Buffer): string {
  return Buffer.concat([u32(ENVELOPE_TYPE_TX), tx, u32(0)]).toString('base64')
}

/** resourceFee of a SorobanTransactionData (its last field). */
export function resourceFeeOf(sorobanData: Buffer): bigint {
  if (sorobanData.length < RESOURCE_FEE_BYTES) throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'transactionData too short')
  return sorobanData.readBigInt64BE(sorobanData.length - RESOURCE_FEE_BYTES)
}

/**
 * What rpc.assembleTransaction does, on bytes: fee = inclusion fee + the data's
 * resourceFee, ext = v1 with the simulated SorobanTransactionData, and (when the
 * single invoke operation has no auth yet) the simulated auth entries.
 * `tx` must be an encodeTx result with one invoke operation and ext v0.
 */
export function assembleTx(tx: Buffer, inclusionFeeStroops: number, sorobanData: Buffer, auth: readonly Buffer[] | null): Buffer {
  if (tx.readUInt32BE(tx.length - EXT_V0_BYTES) !== 0) throw new TypeError('transaction already has soroban data')
  const fee = BigInt(inclusionFeeStroops) + resourceFeeOf(sorobanData)
  if (fee < 0n || fee > BigInt(UINT32_MAX)) throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, `total fee ${fee} exceeds a u32`)
  const head = Buffer.from(tx.subarray(0, tx.length - EXT_V0_BYTES))
  head.writeUInt32BE(Number(fee), FEE_OFFSET_BYTES)
  const parts: Buffer[] = []
  if (auth && auth.length > 0) {
    if (head.readUInt32BE(head.length - AUTH_COUNT_BYTES) !== 0) throw new TypeError('operation auth is not empty')
    parts.push(head.subarray(0, head.length - AUTH_COUNT_BYTES), u32(auth.length), ...auth)
  } else {
    parts.push(head)
  }
  parts.push(u32(1), sorobanData)
  return Buffer.concat(parts)
}

/** sha256(networkId ‖ ENVELOPE_TYPE_TX ‖ tx) as 32 bytes. */
export function txHash(networkId: Buffer, tx: Buffer): Buffer {
  return createHash('sha256').update(networkId).update(u32(ENVELOPE_TYPE_TX)).update(tx).digest()
}

/** Signs the transaction with every signer (in order) and returns it ready to send. */
export function signRawTx(networkId: Buffer, tx: Buffer, seq: bigint, signers: readonly Signer[]): RawTx {
  const hash = txHash(networkId, tx)
  const parts: Buffer[] = [u32(ENVELOPE_TYPE_TX), tx, u32(signers.length)]
  for (const s of signers) {
    const sig = s.sign(hash)
    if (sig.length !== SIGNATURE_BYTES) throw new TypeError('signature is not 64 bytes')
    parts.push(Buffer.from(StrKey.decodeEd25519PublicKey(s.publicKey).subarray(28, 32)), u32(SIGNATURE_BYTES), sig)
  }
  return { tx, hash: hash.toString('hex'), envelope: Buffer.concat(parts).toString('base64'), seq }
}

/** feeCharged of a TransactionResult (its first field, i64). */
export function feeChargedOf(resultB64: string): bigint {
  const b = Buffer.from(resultB64, 'base64')
  if (b.length < 8) throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'getTransaction: result too short')
  return b.readBigInt64BE(0)
}
