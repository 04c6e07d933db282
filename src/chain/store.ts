// The chain's persistence, as an interface: the ledger backs it with PostgreSQL
// (src/ledger/chain-store.ts); tests may use MemoryChainStore.

export type FarmerStatus = 'active' | 'disabled'

export interface FarmerRecord {
  publicKey: string
  /** AES-256-GCM ciphertext of the secret seed (see chain/secrets.ts); never the seed itself */
  encryptedSecret: string
  stakePercent: number
  status: FarmerStatus
  createdAt: number
}

export type ChainOp = 'plant' | 'work' | 'harvest'
/** pending: tx hash known, outcome not yet; done: applied; failed: will be retried; lost: can no longer succeed */
export type ChainOpStatus = 'pending' | 'done' | 'failed' | 'lost'

export interface ChainOpRecord {
  farmer: string
  block: number
  op: ChainOp
  status: ChainOpStatus
  txHash: string | null
  /** fee charged, stroops */
  feeStroops: bigint
  /** plant: stake; harvest: reward (stake excluded); work: 0 */
  amountStroops: bigint
  /** work: zeros submitted; others null */
  zeros: number | null
  /** work: gap returned by the contract */
  gap: number | null
  /** failed/lost: why */
  reason: string | null
  updatedAt: number
}

export interface ChainStore {
  listFarmers(): Promise<FarmerRecord[]>
  addFarmer(farmer: FarmerRecord): Promise<void>
  setFarmerStatus(publicKey: string, status: FarmerStatus): Promise<void>
  /**
   * Upsert by (farmer, block, op). A done row is final (the chain applied it): a
   * later record of it that is not done is ignored (see `supersedes`).
   */
  recordOp(op: ChainOpRecord): Promise<void>
  /** All operations of one block. */
  opsOfBlock(block: number): Promise<ChainOpRecord[]>
  /** Operations not yet settled (pending, or worked-but-not-harvested), oldest first. */
  unsettledOps(): Promise<ChainOpRecord[]>
}

/** In-memory ChainStore, for tests and tools that need no database. */
/**
 * A plant or work that failed stays unsettled until the close-out sweep resolves
 * it (done or lost): one left failed would hold its block's rewards for ever.
 */
export function failedPlantOrWork(o: Pick<ChainOpRecord, 'op' | 'status'>): boolean {
  return o.status === 'failed' && (o.op === 'plant' || o.op === 'work')
}

/**
 * Whether `next` may replace `prev` (same farmer, block, op): anything may replace
 * a row that is not done, only done replaces done. A late answer for an attempt
 * (a work whose outcome was unknown, answered 'failed' after a harvest found its
 * hash applied) must not undo what the chain showed.
 */
export function supersedes(next: Pick<ChainOpRecord, 'status'>, prev: Pick<ChainOpRecord, 'status'> | undefined): boolean {
  return prev?.status !== 'done' || next.status === 'done'
}

export class MemoryChainStore implements ChainStore {
  readonly farmers = new Map<string, FarmerRecord>()
  readonly ops = new Map<string, ChainOpRecord>()

  async listFarmers(): Promise<FarmerRecord[]> {
    return [...this.farmers.values()].map((f) => ({ ...f }))
  }
  async addFarmer(farmer: FarmerRecord): Promise<void> {
    if (!this.farmers.has(farmer.publicKey)) this.farmers.set(farmer.publicKey, { ...farmer })
  }
  async setFarmerStatus(publicKey: string, status: FarmerStatus): Promise<void> {
    const f = this.farmers.get(publicKey)
    if (f) f.status = status
  }
  async recordOp(op: ChainOpRecord): Promise<void> {
    const key = `${op.farmer}/${op.block}/${op.op}`
    if (supersedes(op, this.ops.get(key))) this.ops.set(key, { ...op })
  }
  async opsOfBlock(block: number): Promise<ChainOpRecord[]> {
    return [...this.ops.values()].filter((o) => o.block === block).map((o) => ({ ...o }))
  }
  async unsettledOps(): Promise<ChainOpRecord[]> {
    const byKey = this.ops
    return [...byKey.values()]
      .filter((o) => o.status === 'pending' || failedPlantOrWork(o) || (o.op === 'work' && o.status === 'done' && byKey.get(`${o.farmer}/${o.block}/harvest`)?.status !== 'done' && byKey.get(`${o.farmer}/${o.block}/harvest`)?.status !== 'lost'))
      .sort((a, b) => a.block - b.block || a.updatedAt - b.updatedAt)
      .map((o) => ({ ...o }))
  }
}
