// The pool's own little hashing: a fallback work for a farmer no miner served,
// and the check of a miner-provided best hash before it is spent on a fee.
import type { BestWork } from '../events.js'
import { preimage, setNonce } from '../kale/preimage.js'
import { keccak256 } from '../kale/keccak.js'
import { zeros, compareHashes } from '../kale/difficulty.js'

/** Best of nonces 0..count-1 for (index, entropy, farmer). */
export function selfWork(index: number, entropy: Uint8Array, farmer: string, count: number): BestWork {
  const pre = preimage(index, 0n, entropy, farmer)
  let best: BestWork | undefined
  for (let n = 0; n < Math.max(1, count); n++) {
    setNonce(pre, BigInt(n))
    const hash = keccak256(pre)
    const z = zeros(hash)
    if (!best || z > best.zeros || (z === best.zeros && compareHashes(hash, best.hash) < 0)) best = { index, farmer, nonce: BigInt(n), hash, zeros: z }
  }
  return best!
}

/** The hash really is keccak256 of this block's preimage with that nonce, and its zeros are right. */
export function verifyWork(index: number, entropy: Uint8Array, farmer: string, w: BestWork): boolean {
  if (w.index !== index || w.farmer !== farmer || w.hash.length !== 32) return false
  const hash = keccak256(preimage(index, w.nonce, entropy, farmer))
  return compareHashes(hash, w.hash) === 0 && zeros(hash) === w.zeros
}
