// A ChainStore that never makes the block cycle wait for the database. Operation
// records are kept in memory and written behind, in order, retried until the
// database takes them; reads merge what is still unwritten over what the
// database has. A 20 s database outage mid-block therefore costs no plant, work
// or harvest: the cycle runs on, and the books catch up when the database
// returns. After a crash, whatever was not yet written is rebuilt by the
// scheduler from the chain itself (pails, sequence numbers): the open block when
// it starts, and the 8 blocks before it once (closeout.ts, adoptUnrecordedPails).
// Pails older than that are not recovered; a recovered plant or work has no
// transaction hash and its fee is recorded as 0.
import type { Logger } from '../log.js'
import { PoolError, ErrorCode } from '../errors.js'
import { failedPlantOrWork, supersedes, type ChainOpRecord, type ChainStore, type FarmerRecord, type FarmerStatus } from './store.js'

export interface WriteBehindOptions {
  log: Logger
  /** wait between attempts while the database is away */
  retryMs?: number
  /** unwritten records at most; beyond it recordOp throws BUSY (the phase retries next ledger) */
  unwrittenMax?: number
  /** records kept in memory for reads, by block: this many most recent blocks */
  blocksKept?: number
}

const RETRY_MS = 1000
const UNWRITTEN_MAX = 200_000
const BLOCKS_KEPT = 8

const keyOf = (o: Pick<ChainOpRecord, 'farmer' | 'block' | 'op'>): string => `${o.farmer}/${o.block}/${o.op}`

export class WriteBehindChainStore implements ChainStore {
  /** every record this process made, for the most recent blocks (read side) */
  private readonly recent = new Map<number, Map<string, ChainOpRecord>>()
  /** records not yet written, newest version per key, in first-write order */
  private unwritten = new Map<string, ChainOpRecord>()
  private flushing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private failing = false

  constructor(private readonly inner: ChainStore, private readonly o: WriteBehindOptions) {}

  get unwrittenCount(): number {
    return this.unwritten.size
  }

  listFarmers(): Promise<FarmerRecord[]> {
    return this.inner.listFarmers()
  }

  addFarmer(farmer: FarmerRecord): Promise<void> {
    return this.inner.addFarmer(farmer)
  }

  setFarmerStatus(publicKey: string, status: FarmerStatus): Promise<void> {
    return this.inner.setFarmerStatus(publicKey, status)
  }

  async recordOp(op: ChainOpRecord): Promise<void> {
    const key = keyOf(op)
    // A done row this process recorded is final here too (the database's upsert keeps its own done rows).
    if (!supersedes(op, this.recent.get(op.block)?.get(key))) return
    if (!this.unwritten.has(key) && this.unwritten.size >= (this.o.unwrittenMax ?? UNWRITTEN_MAX)) {
      throw new PoolError(ErrorCode.BUSY, 'chain operation records are not being written (database away); retrying')
    }
    const copy = { ...op }
    this.remember(copy)
    this.unwritten.delete(key) // re-insert: order follows the latest version
    this.unwritten.set(key, copy)
    this.kick()
  }

  async opsOfBlock(block: number): Promise<ChainOpRecord[]> {
    let stored: ChainOpRecord[]
    try {
      stored = await this.inner.opsOfBlock(block)
    } catch (err) {
      // The database is away. For the blocks this process is cycling (and any
      // newer one) its own records are the freshest view: the scheduler checks
      // pails on chain before acting, and the contract refuses a second plant
      // or harvest. For an older block there is nothing safe to answer.
      const oldestKept = Math.min(...this.recent.keys())
      if (this.recent.size === 0 || block < oldestKept) throw err
      return [...(this.recent.get(block)?.values() ?? [])].map((o) => ({ ...o }))
    }
    return this.merge(stored, (o) => o.block === block)
  }

  async unsettledOps(): Promise<ChainOpRecord[]> {
    const merged = this.merge(await this.inner.unsettledOps(), () => true)
    const byKey = new Map(merged.map((o) => [keyOf(o), o]))
    const harvested = (w: ChainOpRecord): boolean => {
      const h = byKey.get(keyOf({ farmer: w.farmer, block: w.block, op: 'harvest' }))
      return h !== undefined && (h.status === 'done' || h.status === 'lost')
    }
    return merged
      .filter((o) => o.status === 'pending' || failedPlantOrWork(o) || (o.op === 'work' && o.status === 'done' && !harvested(o)))
      .sort((a, b) => a.block - b.block || a.updatedAt - b.updatedAt)
  }

  /** Writes everything unwritten (graceful stop); false when the database did not take it in time. */
  async close(timeoutMs = 10_000): Promise<boolean> {
    const until = Date.now() + timeoutMs
    while (this.unwritten.size > 0 && Date.now() < until) {
      await this.flush()
      if (this.unwritten.size > 0) await new Promise((r) => setTimeout(r, Math.min(this.o.retryMs ?? RETRY_MS, Math.max(0, until - Date.now()))))
    }
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    if (this.unwritten.size > 0) this.o.log.warn({ unwritten: this.unwritten.size }, 'chain records left unwritten at stop; the next start rebuilds them from the chain')
    return this.unwritten.size === 0
  }

  /** Stored rows overlaid by this process's newer records (unwritten ones win unless the stored row is done). */
  private merge(stored: ChainOpRecord[], wanted: (o: ChainOpRecord) => boolean): ChainOpRecord[] {
    const byKey = new Map(stored.map((o) => [keyOf(o), o]))
    for (const o of this.unwritten.values()) {
      const k = keyOf(o)
      if ((wanted(o) || byKey.has(k)) && supersedes(o, byKey.get(k))) byKey.set(k, { ...o })
    }
    return [...byKey.values()]
  }

  private remember(op: ChainOpRecord): void {
    let m = this.recent.get(op.block)
    if (!m) {
      m = new Map()
      this.recent.set(op.block, m)
      const kept = this.o.blocksKept ?? BLOCKS_KEPT
      if (this.recent.size > kept) {
        const oldest = [...this.recent.keys()].sort((a, b) => a - b).slice(0, this.recent.size - kept)
        for (const b of oldest) this.recent.delete(b)
      }
    }
    m.set(keyOf(op), op)
  }

  private kick(): void {
    if (this.closed || this.flushing || this.timer) return
    void this.flush()
  }

  private flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined
      if (this.unwritten.size > 0 && !this.closed && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined
          this.kick()
        }, this.failing ? (this.o.retryMs ?? RETRY_MS) : 0)
        this.timer.unref()
      }
    })
    return this.flushing
  }

  private async flushOnce(): Promise<void> {
    for (const [key, op] of this.unwritten) {
      try {
        await this.inner.recordOp(op)
      } catch (err) {
        if (!this.failing) this.o.log.warn({ err: err instanceof Error ? err.message : String(err), unwritten: this.unwritten.size }, 'database away: chain records kept in memory until it returns')
        this.failing = true
        return
      }
      // A newer version recorded meanwhile stays queued.
      if (this.unwritten.get(key) === op) this.unwritten.delete(key)
    }
    if (this.failing) this.o.log.info('database back: chain records written')
    this.failing = false
  }
}
