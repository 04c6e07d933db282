// Pure decisions of the block cycle (KALE.md "Blocks and timing"): when to work,
// when the pool may open the next block, what stake to plant, what to do with
// each pail given what the chain and the store say. No I/O, no clock: `now` is
// the ledger close time, passed in.
import { BLOCK_INTERVAL_SECONDS, harvestReward, normalizedSum } from '../kale/reward.js'
import { compareHashes } from '../kale/difficulty.js'
import type { BestWork } from '../events.js'
import type { ChainOp, ChainOpRecord } from './store.js'
import type { BlockData, PailData } from './contract.js'

/** Earliest ledger time at which anyone can open the next block. */
export function rolloverAt(blockTimestamp: number): number {
  return blockTimestamp + BLOCK_INTERVAL_SECONDS
}

/** Work goes out `leadSeconds` before the earliest rollover: late enough for a large gap, early enough to land. */
export function isWorkDue(blockTimestamp: number, closeTime: number, leadSeconds: number): boolean {
  return closeTime >= rolloverAt(blockTimestamp) - leadSeconds
}

/** Ledger seconds per ledger (nominal; the devnet advances exactly this much per ledger). */
export const LEDGER_SECONDS_NOMINAL = 5

/**
 * The work's lead: the configured one plus the whole ledgers that FAULTS_COVERED
 * RPC faults in a row would cost at what one recently cost (a hang until the
 * timeout plus the backoff before the retry), so a work that meets faults on its
 * way still lands before the rollover. One fault covered was not enough: at a
 * 10 % fault rate two in a row hit about one work in a hundred requests, and the
 * CI run lost 2 of 30 works that way. No recent fault: the configured lead.
 * Capped at half a block.
 */
export const FAULTS_COVERED = 2

export function workLeadFor(baseLeadSeconds: number, faultCostMs: number, ledgerMs: number): number {
  const extraLedgers = faultCostMs > 0 && ledgerMs > 0 ? Math.ceil((FAULTS_COVERED * faultCostMs) / ledgerMs) : 0
  return Math.min(baseLeadSeconds + extraLedgers * LEDGER_SECONDS_NOMINAL, BLOCK_INTERVAL_SECONDS / 2)
}

/** A plant simulated now opens the next block. */
export function mayOpenNext(blockTimestamp: number, closeTime: number): boolean {
  return closeTime >= rolloverAt(blockTimestamp)
}

const PERCENT_SCALE = 10_000n // hundredths of a percent

/** floor(balance · percent / 100), percent 0..100 with up to two decimals. */
export function stakeOf(balanceStroops: bigint, percent: number): bigint {
  if (!(percent > 0) || balanceStroops <= 0n) return 0n
  const p = BigInt(Math.round(Math.min(percent, 100) * 100))
  return (balanceStroops * p) / PERCENT_SCALE
}

export type Step = 'todo' | 'pending' | 'done'

/** Plant of the current block: the Pail on chain is the truth; a recorded tx hash is checked before anything new is sent. */
export function plantStep(op: ChainOpRecord | undefined, pail: PailData | undefined): Step {
  if (pail) return 'done'
  if (op?.status === 'done') return 'done'
  if (op?.status === 'pending' && op.txHash) return 'pending'
  return 'todo'
}

/** Work of the current block; 'none' when there is no pail to work. */
export function workStep(op: ChainOpRecord | undefined, pail: PailData | undefined): Step | 'none' {
  if (op?.status === 'done') return 'done'
  if (!pail) return op?.status === 'pending' && op.txHash ? 'pending' : 'none'
  if (pail.zeros !== null) return 'done'
  if (op?.status === 'pending' && op.txHash) return 'pending'
  return 'todo'
}

export type HarvestStep =
  | { kind: 'skip' }
  | { kind: 'wait' }
  | { kind: 'check'; txHash: string }
  | { kind: 'harvest' }
  /**
   * the pail is missing from one read: harvested (by us or anyone: harvest needs
   * no auth), expired, or a lagging node's answer; a harvest is sent all the same
   * (its simulation answers #9 if the pail is really gone) and the scheduler finds out which
   */
  | { kind: 'gone' }
  | { kind: 'lost'; reason: string }

export interface HarvestView {
  index: number
  farmIndex: number
  harvest: ChainOpRecord | undefined
  pail: PailData | undefined
  /** the work row is done: the chain confirmed the work */
  workLanded: boolean
  /** the work row is pending: its hash not found yet (a lagging node may not have it) */
  workPending?: boolean
}

export function harvestStep(v: HarvestView): HarvestStep {
  const h = v.harvest
  if (h && (h.status === 'done' || h.status === 'lost')) return { kind: 'skip' }
  if (v.index >= v.farmIndex) return { kind: 'wait' }
  // A failed attempt may have applied all the same ("outcome unknown"): its hash is asked first.
  if ((h?.status === 'pending' || h?.status === 'failed') && h.txHash) return { kind: 'check', txHash: h.txHash }
  if (!v.pail) return { kind: 'gone' }
  // A pail read unworked after the chain confirmed its work is a lagging node's answer:
  // the harvest goes out, and its simulation answers #10 (lost) if it really never was worked.
  // While our work's outcome is unknown, an unworked read proves nothing either: wait for its hash.
  if (v.pail.zeros === null && v.workPending) return { kind: 'wait' }
  if (v.pail.zeros === null && !v.workLanded) return { kind: 'lost', reason: 'pail was never worked' }
  // No TTL verdict: the RPC returns no expired temporary entry, so a pail read is live;
  // its liveUntil against some other answer's latestLedger (one bad 2e9) wrote off every pail.
  return { kind: 'harvest' }
}

/**
 * The reward a harvest of this pail minted, from Block(index) — its totals are
 * final once the block is over and a harvest does not change them (KALE.md
 * "Reward math") — and the pail's recorded gap, zeros and stake. Null when an
 * input is unknown. For a pail that vanished while Block(index) lives: it was
 * harvested (the pail outlives its block), maybe by a transaction whose outcome
 * we never learned or by a third party.
 */
export function derivedHarvestReward(index: number, block: Pick<BlockData, 'stats' | 'stakedTotal' | 'normalizedTotal'>, work: { gap: number | null; zeros: number | null; stake: bigint | null }): bigint | null {
  if (work.gap === null || work.zeros === null || work.stake === null) return null
  const n = normalizedSum(block.stats, { gap: BigInt(work.gap), zeros: BigInt(work.zeros), stake: work.stake })
  return harvestReward(index, n, block.stakedTotal, block.normalizedTotal)
}

export type ErrorVerdict = 'done' | 'retry' | 'lost'

/** What a contract error (KALE.md table) means for an operation. */
export function contractErrorVerdict(op: ChainOp, code: number): ErrorVerdict {
  switch (op) {
    case 'plant':
      if (code === 8) return 'done' // PailExists: already planted this block
      if (code === 3 || code === 4) return 'retry' // no FarmBlock yet / paused
      return 'lost'
    case 'work':
      if (code === 7) return 'done' // ZeroCountTooLow: a work at least as good is in
      if (code === 15) return 'retry' // same ledger as the plant
      return 'lost' // 9/11/13: the block rolled over under us
    case 'harvest':
      if (code === 14) return 'retry' // not over yet
      return 'lost' // 9 pail gone, 10 never worked, 11 block gone
  }
}

/** Most zeros wins, then the lower hash. */
export function betterWork(a: BestWork | undefined, b: BestWork | undefined): BestWork | undefined {
  if (!a) return b
  if (!b) return a
  if (a.zeros !== b.zeros) return a.zeros > b.zeros ? a : b
  return compareHashes(a.hash, b.hash) <= 0 ? a : b
}

/** Splits `items` into chunks of at most `size` (getLedgerEntries takes ≤ 200 keys). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
