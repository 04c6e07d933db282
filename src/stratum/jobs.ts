// Jobs: one piece of work (block, farmer) as sent to miners. A job's notify line
// is built once (per cleanJobs flag) and the same string is written to every
// session that gets it. Staleness lives on the shared Work record, so ending a
// block or marking a farmer worked voids all its jobs at once, O(1).
import { preimage } from '../kale/index.js'
import { encodeNotify } from './protocol.js'

export interface Work {
  index: number
  farmer: string
  entropy: Uint8Array
  farmerKey: Uint8Array
  /** 76-byte preimage with nonce 0; verification copies it and sets the nonce. */
  template: Uint8Array
  /** True once the block is over or the work for (index, farmer) was submitted. */
  stale: boolean
  entropyHex: string
  farmerKeyHex: string
}

export interface Job {
  /** `seq` in hex: ids only grow, so a session knows which ids it cannot have been sent. */
  id: string
  seq: number
  work: Work
  lines: [string | undefined, string | undefined]
}

export function notifyLine(job: Job, cleanJobs: boolean): string {
  const k = cleanJobs ? 1 : 0
  let line = job.lines[k]
  if (line === undefined) {
    const w = job.work
    line = encodeNotify(job.id, w.index, w.entropyHex, w.farmerKeyHex, w.farmer, cleanJobs)
    job.lines[k] = line
  }
  return line
}

/** Blocks whose worked farmers are remembered (the open one and any the chain reached first). */
const WORKED_BLOCKS_MAX = 4

export class JobBook {
  private seq = 0
  private readonly works = new Map<string, Work>()
  private readonly current = new Map<string, Job>()
  /**
   * Farmers whose work was taken, by block: whether or not a job was ever made for
   * them, and also for a block this book has not opened yet (the chain can see a
   * block, and work it, before its event reaches the stratum).
   */
  private readonly worked = new Map<number, Set<string>>()
  private block: { index: number; entropy: Uint8Array } | undefined

  get blockIndex(): number | undefined {
    return this.block?.index
  }

  /** A new block: every job of older blocks becomes stale. */
  openBlock(index: number, entropy: Uint8Array): void {
    for (const w of this.works.values()) w.stale = true
    this.works.clear()
    this.current.clear()
    for (const k of this.worked.keys()) if (k < index) this.worked.delete(k)
    this.block = { index, entropy: Uint8Array.from(entropy) }
  }

  /** Voids the jobs of (index, farmer): its work was submitted. */
  markWorked(index: number, farmer: string): void {
    if (this.block && index < this.block.index) return
    // Remembered even when no job was ever made for the farmer: a session assigned
    // to it later would otherwise get fresh work, and shares credited after the
    // work was taken (the e2e test saw a 5-zero share credited, a 2-zero work sent).
    const w = this.works.get(farmer)
    if (w && w.index === index) w.stale = true
    let set = this.worked.get(index)
    if (!set) {
      // Bounded: the open block and at most a couple ahead of it.
      if (this.worked.size >= WORKED_BLOCKS_MAX) return
      set = new Set()
      this.worked.set(index, set)
    }
    set.add(farmer)
  }

  isWorked(farmer: string): boolean {
    const b = this.block
    return b !== undefined && (this.worked.get(b.index)?.has(farmer) ?? false)
  }

  /** The current job for `farmer` in the open block (created on first use). */
  jobFor(farmer: string, farmerKey: Uint8Array): Job | undefined {
    const job = this.current.get(farmer)
    if (job) return job.work.stale ? undefined : job
    return this.fresh(farmer, farmerKey)
  }

  /**
   * A new job id for the same work, replacing the current one: used when a session
   * that already holds the current job needs a job at a new difficulty.
   */
  reissue(farmer: string, farmerKey: Uint8Array, held: Job): Job | undefined {
    const cur = this.current.get(farmer)
    if (cur && cur !== held) return cur.work.stale ? undefined : cur
    return this.fresh(farmer, farmerKey)
  }

  private fresh(farmer: string, farmerKey: Uint8Array): Job | undefined {
    const b = this.block
    if (!b || this.isWorked(farmer)) return undefined
    let w = this.works.get(farmer)
    if (!w) {
      w = {
        index: b.index, farmer, entropy: b.entropy, farmerKey,
        template: preimage(b.index, 0n, b.entropy, farmerKey), stale: false,
        entropyHex: Buffer.from(b.entropy).toString('hex'), farmerKeyHex: Buffer.from(farmerKey).toString('hex'),
      }
      this.works.set(farmer, w)
    }
    const seq = ++this.seq
    const job: Job = { id: seq.toString(16), seq, work: w, lines: [undefined, undefined] }
    this.current.set(farmer, job)
    return job
  }
}
