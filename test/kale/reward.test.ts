import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import {
  blockReward, fmf, normalizations, normalizedSum, harvestReward, kaleToStroops, stroopsToKale, BLOCK_REWARD, DECAY_START_INDEX, DECAY_PERIOD_BLOCKS,
  type BlockStats,
} from '../../src/kale/index.js'

const fixture = JSON.parse(readFileSync(new URL('../fixtures/kale-reward.json', import.meta.url), 'utf8')) as {
  index: number
  blockStats: Record<'min_gap' | 'max_gap' | 'min_stake' | 'max_stake' | 'min_zeros' | 'max_zeros', string>
  unworkedStakes: string
  pails: { stake: string; gap: number; zeros: number; reward: string }[]
}
const s = fixture.blockStats
const stats: BlockStats = {
  minGap: BigInt(s.min_gap), maxGap: BigInt(s.max_gap), minStake: BigInt(s.min_stake),
  maxStake: BigInt(s.max_stake), minZeros: BigInt(s.min_zeros), maxZeros: BigInt(s.max_zeros),
}

describe('reward math', () => {
  it('pays every pail of the published vector exactly', () => {
    const works = fixture.pails.map((p) => ({ gap: BigInt(p.gap), stake: BigInt(p.stake), zeros: BigInt(p.zeros) }))
    const total = works.reduce((t, w) => t + normalizedSum(stats, w), 0n)
    fixture.pails.forEach((p, i) => {
      expect(harvestReward(fixture.index, normalizedSum(stats, works[i]!), BigInt(fixture.unworkedStakes), total)).toBe(BigInt(p.reward))
    })
  })

  it('block reward: the about-line figures, and 5 % decay every 8640 blocks', () => {
    expect(blockReward(0)).toBe(BLOCK_REWARD)
    expect(blockReward(DECAY_START_INDEX)).toBe(25_050_000_000n)
    expect(blockReward(DECAY_START_INDEX + DECAY_PERIOD_BLOCKS - 1)).toBe(25_050_000_000n)
    expect(blockReward(39_198)).toBe(23_797_500_000n)
    expect(blockReward(95_825)).toBe(17_493_349_267n)
    // reference: r repeated floor(r · 95e10 / 1e12)
    for (const periods of [0, 1, 2, 7, 50]) {
      let r = 10n ** 12n
      for (let i = 0; i < periods; i++) r = (r * 95n * 10n ** 10n) / 10n ** 12n
      expect(blockReward(DECAY_START_INDEX + periods * DECAY_PERIOD_BLOCKS)).toBe((BLOCK_REWARD * r) / 10n ** 12n)
    }
    expect(blockReward(DECAY_START_INDEX + 2000 * DECAY_PERIOD_BLOCKS)).toBe(0n)
  })

  it('block reward never increases with the index', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2_000_000 }), fc.integer({ min: 0, max: 100_000 }), (a, d) => blockReward(a + d) <= blockReward(a)))
  })

  it('normalizations clamp to the previous block’s ranges and floor at 1', () => {
    expect(normalizations(stats, { gap: 2n, stake: 0n, zeros: 5n })).toEqual([1n, 1n, 1n])
    const top = normalizations(stats, { gap: 1000n, stake: 10n ** 12n, zeros: 60n })
    expect(top).toEqual([99_384_900n, 99_384_900n, 99_384_900n])
    const flat: BlockStats = { minGap: 5n, maxGap: 5n, minStake: 0n, maxStake: 0n, minZeros: 6n, maxZeros: 6n }
    expect(normalizations(flat, { gap: 9n, stake: 3n, zeros: 9n })).toEqual([1n, 1n, 1n])
  })

  it('harvest with a zero normalized total divides by 1', () => {
    expect(harvestReward(0, 1n, 0n, 0n)).toBe(BLOCK_REWARD)
  })

  it('fmf is floor(x·y/d), also for negative products', () => {
    expect(fmf(7n, 3n, 2n)).toBe(10n)
    expect(fmf(-7n, 3n, 2n)).toBe(-11n)
    expect(fmf(6n, 2n, 3n)).toBe(4n)
  })
})

describe('KALE ↔ stroops', () => {
  it('parses decimal KALE exactly', () => {
    expect(kaleToStroops('0')).toBe(0n)
    expect(kaleToStroops('12.5')).toBe(125_000_000n)
    expect(kaleToStroops('0.0000001')).toBe(1n)
    expect(kaleToStroops(' 2505 ')).toBe(25_050_000_000n)
    expect(kaleToStroops('999999999999999.9999999')).toBe(9_999_999_999_999_999_999_999n)
  })

  it('rejects what is not a plain non-negative decimal with ≤ 7 decimals', () => {
    for (const bad of ['', '-1', '1.', '.5', '1.00000001', '1e3', 'abc', '0x10', '1,5', '1 000', '1234567890123456']) expect(kaleToStroops(bad)).toBeNull()
  })

  it('formats stroops and round-trips', () => {
    expect(stroopsToKale(0n)).toBe('0')
    expect(stroopsToKale(1n)).toBe('0.0000001')
    expect(stroopsToKale(125_000_000n)).toBe('12.5')
    expect(stroopsToKale(-125_000_000n)).toBe('-12.5')
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 22n - 1n }), (n) => kaleToStroops(stroopsToKale(n)) === n))
  })
})
