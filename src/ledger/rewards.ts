// The reward split, pure and in bigint. A block's pot (the harvest rewards of the
// pool's farmers, stakes excluded) pays the pool fee first (POOL_FEE_PERCENT, as
// parts per million, rounded down); the rest is split among miners in proportion
// to their summed share difficulty (micro-difficulty, amounts.ts), each credit
// rounded down. Whatever rounding leaves over goes to the fee, so credits + fee
// == pot exactly. A block without shares (weight 0) goes entirely to the fee:
// there is nobody to credit, and carrying it to a later block would pay that
// block's miners for work they did not do.
import assert from 'node:assert/strict'

export const PPM = 1_000_000n

export interface MinerWeight {
  miner: string
  /** summed share difficulty, micro-difficulty units (any non-negative bigint) */
  weight: bigint
}

export interface Credit {
  miner: string
  amountStroops: bigint
}

export interface RewardSplit {
  potStroops: bigint
  feeStroops: bigint
  /** sorted by miner address; only positive amounts */
  credits: Credit[]
}

export type PayoutScheme = 'prop' | 'pplns'

/** Blocks whose shares weigh in the split of `block`: [first, last], inclusive. */
export function shareWindow(block: number, scheme: PayoutScheme, pplnsBlocks: number): [number, number] {
  assert(Number.isSafeInteger(block) && block >= 0 && Number.isSafeInteger(pplnsBlocks) && pplnsBlocks >= 1)
  return scheme === 'prop' ? [block, block] : [Math.max(0, block - pplnsBlocks + 1), block]
}

export function splitReward(potStroops: bigint, feePpm: bigint, weights: readonly MinerWeight[]): RewardSplit {
  assert(potStroops >= 0n, 'pot must be >= 0')
  assert(feePpm >= 0n && feePpm <= PPM, 'fee must be 0..1e6 ppm')
  let total = 0n
  for (const w of weights) {
    assert(w.weight >= 0n, 'weights must be >= 0')
    total += w.weight
  }
  if (total === 0n) return { potStroops, feeStroops: potStroops, credits: [] }
  const minersPot = potStroops - (potStroops * feePpm) / PPM
  // Stable order by address (code units), so equal inputs give equal outputs
  // whatever order the database returned them in.
  const sorted = [...weights].sort((a, b) => (a.miner < b.miner ? -1 : a.miner > b.miner ? 1 : 0))
  const credits: Credit[] = []
  let paid = 0n
  for (let i = 0; i < sorted.length; i++) {
    const w = sorted[i]!
    assert(i === 0 || sorted[i - 1]!.miner !== w.miner, 'each miner appears once')
    if (w.weight === 0n) continue
    const amount = (minersPot * w.weight) / total
    if (amount === 0n) continue
    credits.push({ miner: w.miner, amountStroops: amount })
    paid += amount
  }
  return { potStroops, feeStroops: potStroops - paid, credits }
}
