// Hash quality: leading zero nibbles, and share difficulty <-> 256-bit target.
// Difficulty D is a JS number >= 1. Every finite double is an exact rational
// m * 2^e, so the target floor((2^256 - 1) / D) is computed exactly in bigint,
// for fractional D and for D beyond 2^53 (powers of two, PROTOCOL.md).
import { PoolError, ErrorCode } from '../errors.js'

export const HASH_MAX = (1n << 256n) - 1n

/** Leading zero hex nibbles of a hash (KALE.md). */
export function zeros(hash: Uint8Array): number {
  return zerosIn(hash, 0, hash.length)
}

/** Leading zero nibbles of bytes[offset, offset + length) (hashes packed in one buffer). */
export function zerosIn(bytes: Uint8Array, offset: number, length: number): number {
  let n = 0
  for (let i = offset; i < offset + length; i++) {
    const b = bytes[i]!
    if (b === 0) {
      n += 2
      continue
    }
    if (b < 0x10) n += 1
    break
  }
  return n
}

export function hashToBigInt(hash: Uint8Array): bigint {
  let hex = ''
  for (let i = 0; i < hash.length; i++) hex += hash[i]!.toString(16).padStart(2, '0')
  return hex.length === 0 ? 0n : BigInt('0x' + hex)
}

/** D = m * 2^e with m an odd-or-zero safe integer. */
function splitDouble(d: number): { m: bigint; e: number } {
  const buf = new DataView(new ArrayBuffer(8))
  buf.setFloat64(0, d)
  const hi = buf.getUint32(0)
  const lo = buf.getUint32(4)
  const exp = (hi >>> 20) & 0x7ff
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  let e: number
  if (exp === 0) e = -1074
  else {
    mant |= 1n << 52n
    e = exp - 1075
  }
  return { m: mant, e }
}

export function assertDifficulty(d: number): void {
  if (typeof d !== 'number' || !Number.isFinite(d) || d < 1) {
    throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'difficulty must be a finite number >= 1')
  }
}

/** floor((2^256 - 1) / D), exact. */
export function targetOf(d: number): bigint {
  assertDifficulty(d)
  const { m, e } = splitDouble(d)
  return e >= 0 ? HASH_MAX / (m << BigInt(e)) : (HASH_MAX << BigInt(-e)) / m
}

/** The difficulty whose target is `target` (inverse of targetOf, as a double). */
export function difficultyOf(target: bigint): number {
  if (target <= 0n) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'target must be > 0')
  return Number(HASH_MAX) / Number(target)
}

/** D = 16^z: "z leading zero nibbles". */
export function difficultyForZeros(z: number): number {
  return 16 ** z
}

export function meetsTarget(hash: Uint8Array, d: number): boolean {
  return hashToBigInt(hash) <= targetOf(d)
}

/** Compares two hashes as big-endian integers: negative when a < b. */
export function compareHashes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** Target as 32 big-endian bytes, for byte-wise comparisons in hot loops. */
export function targetBytes(d: number): Uint8Array {
  const hex = targetOf(d).toString(16).padStart(64, '0')
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

/** hash <= target, both 32 big-endian bytes. */
export function belowOrEqual(hash: Uint8Array, target: Uint8Array): boolean {
  return compareHashes(hash, target) <= 0
}
