// The values that flow between the pool's parts (ARCHITECTURE.md: socket →
// session → verifier → share event → best-work tracker and ledger; chain events
// from the scheduler to the job source and the ledger). Types only.

/** Previous-block stats that Block(N) carries (KALE.md), all bigint. */
export interface BlockStats {
  minGap: bigint
  maxGap: bigint
  minStake: bigint
  maxStake: bigint
  minZeros: bigint
  maxZeros: bigint
}

/** A block as the watcher sees it the moment its index appears. */
export interface BlockEvent {
  index: number
  /** 32 bytes: Block(index).entropy */
  entropy: Uint8Array
  /** ledger time (unix seconds) the block opened: Block(index).timestamp */
  timestamp: number
  stats: BlockStats
  /** ledger sequence at which the watcher saw it */
  ledger: number
}

/** The scheduler's plants of block `index` are applied: these farmers can be worked. */
export interface PlantedEvent {
  index: number
  /** G-addresses of the pool's farmers with a Pail in this block */
  farmers: string[]
}

/** The best hash found so far for (block, farmer): most zeros, then lowest hash. */
export interface BestWork {
  index: number
  farmer: string
  nonce: bigint
  hash: Uint8Array
  zeros: number
}

/** Read side the scheduler's work step uses; filled by stratum from miners' shares. */
export interface BestWorkSource {
  best(index: number, farmer: string): BestWork | undefined
}

/** One accepted share, for the ledger (credited at its job's difficulty). */
export interface ShareEvent {
  block: number
  farmer: string
  payoutAddress: string
  worker: string
  difficulty: number
  zeros: number
  /** unix milliseconds */
  at: number
}

/** Something that takes accepted shares; `false` = buffer full, the submit answers busy. */
export interface ShareSink {
  add(share: ShareEvent): boolean
}
