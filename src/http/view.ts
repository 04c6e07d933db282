// What the HTTP server may ask of the pool: a read/act interface that knows no
// SQL, RPC or sockets. src/http/pool-view.ts builds one from the ledger's read
// queries and the live stratum/chain state; tests can build their own.
// Money is bigint stroops in a field named `…Stroops`; the server writes it as
// a decimal string plus a `…Kale` string (src/http/json.ts), never a double.

/** One part of the pool's health: ok, plus what an operator needs to see why not. */
export interface HealthPart {
  ok: boolean
  /** why not ok (no secrets: this is served to anyone) */
  reason?: string
  [detail: string]: unknown
}

export interface Health {
  /** a current block is known and not older than the pool can still farm */
  block: HealthPart
  /** the Soroban RPC (or in-process devnet) answers */
  rpc: HealthPart
  /** the database answers (or shares are only being buffered) */
  database: HealthPart
  /** the stratum server accepts sessions */
  sessions: HealthPart
}

export const HEALTH_PARTS = ['block', 'rpc', 'database', 'sessions'] as const satisfies readonly (keyof Health)[]

export interface PoolSummary {
  /** hashes per second over the last 10 minutes (accepted share difficulty / seconds) */
  hashrate10m: number
  sessions: { connected: number; authorized: number }
  /** miners (payout addresses) with a share in the last 10 minutes */
  miners: number
  workers: number
  farmers: { active: number; total: number }
  block: { index: number; openedAt: number; ageSeconds: number } | null
  feePercent: number
  scheme: 'prop' | 'pplns'
  pplnsBlocks?: number
  payoutThresholdStroops: bigint
  paidStroops: bigint
}

export interface BlockRow {
  index: number
  /** ledger time (unix seconds) the block opened, when known */
  openedAt: number | null
  planted: number
  worked: number
  harvested: number
  bestZeros: number | null
  shares: number
  /** summed accepted share difficulty */
  difficulty: number
  /** harvest rewards of the pool's farmers (stakes excluded) */
  rewardStroops: bigint
  feeStroops: bigint
}

export interface MinerWorker {
  name: string
  hashrate10m: number
  lastShareAt: number | null
}

export interface MinerBlock {
  index: number
  shares: number
  difficulty: number
  bestZeros: number
  creditStroops: bigint | null
}

export interface MinerPayout {
  at: number
  amountStroops: bigint
  status: string
  txHash: string | null
  reason?: string | null
}

export interface MinerDetail {
  address: string
  hashrate10m: number
  workers: MinerWorker[]
  blocks: MinerBlock[]
  balanceStroops: bigint
  paidStroops: bigint
  payouts: MinerPayout[]
}

export interface FarmerRow {
  publicKey: string
  status: string
  stakePercent: number
  lastBlockWorked: number | null
  /** zeros of the last work submitted */
  zeros: number | null
}

export interface AddFarmersResult {
  publicKeys: string[]
}

export interface PayoutRunResult {
  /** payout entries prepared or sent in this run */
  payouts: number
  paidStroops: bigint
  skipped: number
  [detail: string]: unknown
}

/** Page sizes the server passes are already validated and bounded. */
export interface PoolView {
  health(): Promise<Health>
  pool(): Promise<PoolSummary>
  /** newest first; `before` = only blocks with index < before */
  blocks(limit: number, before?: number): Promise<BlockRow[]>
  /** null when the pool has never seen this payout address */
  miner(address: string, blocksLimit: number): Promise<MinerDetail | null>
  farmers(limit: number): Promise<FarmerRow[]>
  addFarmers(count: number, stakePercent: number): Promise<AddFarmersResult>
  /** false when no such farmer */
  disableFarmer(publicKey: string): Promise<boolean>
  runPayouts(): Promise<PayoutRunResult>
}
