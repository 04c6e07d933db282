// The contract's money math, in bigint stroops, exactly as KALE.md states it
// (kale-sc: generate_normalizations, block reward with decay, harvest).

export const STROOPS_PER_KALE = 10_000_000n
export const BLOCK_INTERVAL_SECONDS = 300
/**
 * Block and Pail entries live this many ledgers from their creation (the
 * network's minimum temporary TTL, KALE.md "Storage"); the contract never
 * extends them. Past it no harvest of the block can happen any more.
 */
export const PAIL_TTL_LEDGERS = 17_280
export const BLOCK_REWARD = 25_050_000_000n
export const DECAY_START_INDEX = 30_558
export const DECAY_PERIOD_BLOCKS = 8_640
const SCALE = 10n ** 12n
const DECAY_FACTOR = 95n * 10n ** 10n

/** The contract's fixed_mul_floor: floor(x*y/d). */
export function fmf(x: bigint, y: bigint, d: bigint): bigint {
  const p = x * y
  // floor division for negatives too (operands are non-negative in practice)
  const q = p / d
  return (p % d !== 0n && (p < 0n) !== (d < 0n)) ? q - 1n : q
}

const rewardCache = new Map<number, bigint>()

/** Block reward of block `index`, decayed 5 % every 8640 blocks after 30558. */
export function blockReward(index: number): bigint {
  const periods = Math.floor(Math.max(index - DECAY_START_INDEX, 0) / DECAY_PERIOD_BLOCKS)
  const cached = rewardCache.get(periods)
  if (cached !== undefined) return cached
  let r = SCALE
  for (let i = 0; i < periods; i++) r = (r * DECAY_FACTOR) / SCALE
  const reward = (BLOCK_REWARD * r) / SCALE
  if (rewardCache.size < 1024) rewardCache.set(periods, reward)
  return reward
}

import type { BlockStats } from '../events.js'
export type { BlockStats }

export interface PailWork {
  gap: bigint
  stake: bigint
  zeros: bigint
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b)
const clamp = (x: bigint, lo: bigint, hi: bigint): bigint => (x < lo ? lo : x > hi ? hi : x)

/** [ng, ns, nz]: the normalized gap, stake and zeros of one work. */
export function normalizations(stats: BlockStats, work: PailWork): [bigint, bigint, bigint] {
  const rg = max(stats.maxGap - stats.minGap, 1n)
  const rs = max(stats.maxStake - stats.minStake, 1n)
  const rz = max(stats.maxZeros - stats.minZeros, 1n)
  const s = max(rg, max(rs, rz))
  const g = clamp(work.gap, stats.minGap, stats.maxGap)
  const st = clamp(work.stake, stats.minStake, stats.maxStake)
  const z = clamp(work.zeros, stats.minZeros, stats.maxZeros)
  return [
    max(fmf(g - stats.minGap, s, rg), 1n),
    max(fmf(st - stats.minStake, s, rs), 1n),
    max(fmf(z - stats.minZeros, s, rz), 1n),
  ]
}

/** ng + ns + nz: what one work adds to the block's normalized_total. */
export function normalizedSum(stats: BlockStats, work: PailWork): bigint {
  const [g, s, z] = normalizations(stats, work)
  return g + s + z
}

/**
 * Harvest reward of one pail (stake excluded): floor(n * (blockReward + stakedTotal) / max(normalizedTotal, 1)).
 * `stakedTotal` is the Block's staked_total at harvest (stakes of pails that never worked).
 */
export function harvestReward(index: number, pailNormalized: bigint, stakedTotal: bigint, normalizedTotal: bigint): bigint {
  return fmf(pailNormalized, blockReward(index) + stakedTotal, max(normalizedTotal, 1n))
}

/** Parses a decimal KALE amount ("12.5") into stroops exactly; null when invalid. */
export function kaleToStroops(kale: string): bigint | null {
  const m = /^(\d{1,15})(?:\.(\d{1,7}))?$/.exec(kale.trim())
  if (!m) return null
  return BigInt(m[1]!) * STROOPS_PER_KALE + BigInt((m[2] ?? '').padEnd(7, '0'))
}

export function stroopsToKale(stroops: bigint): string {
  const neg = stroops < 0n
  const a = neg ? -stroops : stroops
  const frac = (a % STROOPS_PER_KALE).toString().padStart(7, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${a / STROOPS_PER_KALE}${frac ? '.' + frac : ''}`
}
