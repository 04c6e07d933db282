import { PoolError, ErrorCode } from '../errors.js'
import { farmerKeyOf } from './strkey.js'

export const PREIMAGE_BYTES = 76
export const U32_MAX = 0xffff_ffff
export const U64_MAX = (1n << 64n) - 1n

/** Resolves a farmer given as G-/C-address or as its 32 raw bytes. */
export function farmerKeyBytes(farmer: string | Uint8Array): Uint8Array {
  if (typeof farmer !== 'string') {
    if (farmer.length !== 32) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'farmer key must be 32 bytes')
    return farmer
  }
  const key = farmerKeyOf(farmer)
  if (!key) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'farmer must be a valid G- or C-address')
  return key
}

/** preimage = u32be(index) || u64be(nonce) || entropy(32) || farmerKey(32) — 76 bytes (KALE.md). */
export function preimage(index: number, nonce: bigint, entropy: Uint8Array, farmer: string | Uint8Array): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index > U32_MAX) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'index must be an integer 0..4294967295')
  if (typeof nonce !== 'bigint' || nonce < 0n || nonce > U64_MAX) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'nonce must be an integer 0..2^64-1')
  if (entropy.length !== 32) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'entropy must be 32 bytes')
  const out = new Uint8Array(PREIMAGE_BYTES)
  const view = new DataView(out.buffer)
  view.setUint32(0, index, false)
  view.setBigUint64(4, nonce, false)
  out.set(entropy, 12)
  out.set(farmerKeyBytes(farmer), 44)
  return out
}

/** Writes only the nonce into an existing preimage (the hot loop of miners and verifiers). */
export function setNonce(pre: Uint8Array, nonce: bigint): void {
  new DataView(pre.buffer, pre.byteOffset, pre.byteLength).setBigUint64(4, nonce, false)
}
