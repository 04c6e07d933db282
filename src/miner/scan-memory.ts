// Where one hash thread left each work it was given. The pool sends the same work
// again — (block index, entropy, farmer key) under the same extranonce1 — after a
// session resumes by sessionId, when a rebalance moves the session back to a
// farmer, and under a new job id after a vardiff retarget. A thread that started
// such work over would find the nonces it already found again, and the miner would
// submit them again: error 22, which counts toward the pool's invalid-share ban.
// So each thread continues where it stopped. Pure: the worker owns one instance
// (the thread alone knows exactly how far it got, so no message race can make it
// rescan a nonce).

/**
 * Works remembered per thread. A block has a handful of farmers and a session
 * rarely meets more than a few of them; past the bound the least recently left
 * work is forgotten, and should it come back it is scanned from its start again
 * (its repeats are then the pool's neutral re-issued duplicates at worst).
 */
export const SCAN_WORKS_MAX = 64

export class ScanMemory {
  private readonly works = new Map<string, { block: number; next: bigint }>()

  constructor(private readonly worksMax = SCAN_WORKS_MAX) {}

  get size(): number {
    return this.works.size
  }

  /**
   * The nonce to start `workKey` at: where this thread left it, else `start`.
   * `clean` (cleanJobs = true) forgets the works of other blocks, which are void;
   * works of the same block stay, since a resumed session gets its work again
   * with cleanJobs = true.
   */
  resume(workKey: string, block: number, clean: boolean, start: bigint): bigint {
    if (clean) {
      for (const [k, w] of this.works) if (w.block !== block) this.works.delete(k)
    }
    return this.works.get(workKey)?.next ?? start
  }

  /** Records that the thread stopped `workKey` at `next` (the first nonce it has not hashed). */
  save(workKey: string, block: number, next: bigint): void {
    // Re-inserted so the map's order is least recently left first.
    this.works.delete(workKey)
    this.works.set(workKey, { block, next })
    if (this.works.size > this.worksMax) this.works.delete(this.works.keys().next().value!)
  }
}
