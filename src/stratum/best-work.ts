// Best hash per (block, farmer): most zeros, then lowest hash. The scheduler's
// work step reads it (BestWorkSource); entries of old blocks are dropped.
import { compareHashes } from '../kale/index.js'
import type { BestWork, BestWorkSource } from '../events.js'

/** Blocks kept: the current one and the one being worked/harvested. */
const BLOCKS_KEPT = 2

export class BestWorkTracker implements BestWorkSource {
  private readonly byBlock = new Map<number, Map<string, BestWork>>()

  best(index: number, farmer: string): BestWork | undefined {
    return this.byBlock.get(index)?.get(farmer)
  }

  /** Offers a verified hash (nonce as 16 hex digits); returns true when it became the best for (index, farmer). */
  offer(index: number, farmer: string, nonceHex: string, hash: Uint8Array, zeros: number): boolean {
    let m = this.byBlock.get(index)
    if (!m) {
      m = new Map()
      this.byBlock.set(index, m)
      this.prune(index)
    }
    const cur = m.get(farmer)
    if (cur && (cur.zeros > zeros || (cur.zeros === zeros && compareHashes(cur.hash, hash) <= 0))) return false
    // BigInt only for a new best (rare), not for every share.
    m.set(farmer, { index, farmer, nonce: BigInt('0x' + nonceHex), hash: Uint8Array.from(hash), zeros })
    return true
  }

  private prune(newest: number): void {
    for (const k of this.byBlock.keys()) if (k <= newest - BLOCKS_KEPT) this.byBlock.delete(k)
  }
}
