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

export class JobBook {
  private seq = 0
  private readonly works = new Map<string, Work>()
  private readonly current = new Map<string, Job>()
  private block: { index: number; entropy: Uint8Array } | undefined

  get blockIndex(): number | undefined {
    return this.block?.index
  }

  /** A new block: every job of older blocks becomes stale. */
  openBlock(index: number, entropy: Uint8Array): void {
    for (const w of this.works.values()) w.stale = true
    this.works.clear()
    this.current.clear()
    this.block = { index, entropy: Uint8Array.from(entropy) }
  }

  /** Voids the jobs of (index, farmer): its work was submitted. */
  markWorked(index: number, farmer: string): void {
    const w = this.works.get(farmer)
    if (w && w.index === index) w.stale = true
  }

  isWorked(farmer: string): boolean {
    return this.works.get(farmer)?.stale ?? false
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
    if (!b) return undefined
    let w = this.works.get(farmer)
    if (!w) {
      w = {
        index: b.index, farmer, entropy: b.entropy, farmerKey,
        template: preimage(b.index, 0n, b.entropy, farmerKey), stale: false,
        entropyHex: Buffer.from(b.entropy).toString('hex'), farmerKeyHex: Buffer.from(farmerKey).toString('hex'),
      }
      this.works.set(farmer, w)
    }
    if (w.stale) return undefined
    const seq = ++this.seq
    const job: Job = { id: seq.toString(16), seq, work: w, lines: [undefined, undefined] }
    this.current.set(farmer, job)
    return job
  }
}
