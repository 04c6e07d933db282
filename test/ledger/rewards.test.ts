import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { splitReward, shareWindow, PPM, type MinerWeight } from '../../src/ledger/rewards.js'
import { percentToPpm } from '../../src/ledger/amounts.js'

const arbWeights = fc.uniqueArray(
  fc.record({ miner: fc.string({ minLength: 1, maxLength: 8 }), weight: fc.bigInt({ min: 0n, max: 10n ** 30n }) }),
  { selector: (w) => w.miner, maxLength: 60 },
)
const arbPot = fc.bigInt({ min: 0n, max: 10n ** 18n })
const arbFee = fc.bigInt({ min: 0n, max: PPM })

describe('reward split', () => {
  it('credits plus fee equal the pot exactly; credits are positive and proportional (floor)', () => {
    fc.assert(
      fc.property(arbPot, arbFee, arbWeights, (pot, fee, weights) => {
        const s = splitReward(pot, fee, weights)
        const sum = s.credits.reduce((a, c) => a + c.amountStroops, 0n)
        expect(sum + s.feeStroops).toBe(pot)
        expect(s.feeStroops).toBeGreaterThanOrEqual((pot * fee) / PPM)
        const total = weights.reduce((a, w) => a + w.weight, 0n)
        const minersPot = pot - (pot * fee) / PPM
        for (const c of s.credits) {
          expect(c.amountStroops).toBeGreaterThan(0n)
          const w = weights.find((x) => x.miner === c.miner)!.weight
          expect(c.amountStroops).toBe((minersPot * w) / total)
        }
        // remainder left by rounding is smaller than one stroop per miner
        if (total > 0n) expect(s.feeStroops - (pot * fee) / PPM).toBeLessThan(BigInt(weights.length) + 1n)
      }),
      { numRuns: 300 },
    )
  })

  it('is deterministic whatever order the weights come in', () => {
    fc.assert(
      fc.property(arbPot, arbFee, arbWeights, fc.integer(), (pot, fee, weights, seed) => {
        const shuffled = [...weights].sort((a, b) => ((a.miner.charCodeAt(0) * seed) % 7) - ((b.miner.charCodeAt(0) * seed) % 7))
        const a = splitReward(pot, fee, weights)
        expect(splitReward(pot, fee, shuffled)).toEqual(a)
        const miners = a.credits.map((c) => c.miner)
        expect(miners).toEqual([...miners].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)))
      }),
      { numRuns: 200 },
    )
  })

  it('gives a zero-share block entirely to the fee', () => {
    fc.assert(
      fc.property(arbPot, arbFee, fc.array(fc.string({ minLength: 1 }), { maxLength: 5 }), (pot, fee, names) => {
        const weights = [...new Set(names)].map((miner) => ({ miner, weight: 0n }))
        expect(splitReward(pot, fee, weights)).toEqual({ potStroops: pot, feeStroops: pot, credits: [] })
      }),
    )
  })

  it('gives one miner everything but the fee', () => {
    fc.assert(
      fc.property(arbPot, arbFee, fc.bigInt({ min: 1n, max: 10n ** 30n }), (pot, fee, w) => {
        const s = splitReward(pot, fee, [{ miner: 'GONE', weight: w }])
        expect(s.feeStroops).toBe((pot * fee) / PPM)
        expect(s.credits.reduce((a, c) => a + c.amountStroops, 0n)).toBe(pot - (pot * fee) / PPM)
      }),
    )
  })

  it('splits among 100 000 miners exactly, fast', () => {
    const weights: MinerWeight[] = []
    for (let i = 0; i < 100_000; i++) weights.push({ miner: `G${String(i).padStart(55, 'A')}`, weight: BigInt(1 + ((i * 7919) % 1_000_003)) * 1_000_000n + 123n })
    const pot = 250_000_000_000n
    const t0 = performance.now()
    const s = splitReward(pot, percentToPpm(1.5), weights)
    const ms = performance.now() - t0
    expect(s.credits.reduce((a, c) => a + c.amountStroops, 0n) + s.feeStroops).toBe(pot)
    expect(s.credits.length).toBe(100_000)
    // the goal (< 1 s) is measured by `npm run bench -- ledger`; headroom here for a loaded CI machine
    expect(ms).toBeLessThan(3000)
  })

  it('takes the fee in parts per million', () => {
    expect(percentToPpm(1)).toBe(10_000n)
    expect(percentToPpm(0.25)).toBe(2_500n)
    expect(percentToPpm(100)).toBe(PPM)
    expect(splitReward(1000n, PPM, [{ miner: 'a', weight: 1n }])).toEqual({ potStroops: 1000n, feeStroops: 1000n, credits: [] })
    expect(splitReward(10n, 0n, [{ miner: 'a', weight: 1n }, { miner: 'b', weight: 2n }])).toEqual({
      potStroops: 10n, feeStroops: 1n, credits: [{ miner: 'a', amountStroops: 3n }, { miner: 'b', amountStroops: 6n }],
    })
  })

  it('refuses bad input', () => {
    expect(() => splitReward(-1n, 0n, [])).toThrow()
    expect(() => splitReward(1n, PPM + 1n, [])).toThrow()
    expect(() => splitReward(1n, 0n, [{ miner: 'a', weight: -1n }])).toThrow()
    expect(() => splitReward(1n, 0n, [{ miner: 'a', weight: 1n }, { miner: 'a', weight: 1n }])).toThrow()
    expect(() => percentToPpm(101)).toThrow()
    expect(() => percentToPpm(NaN)).toThrow()
  })

  it('chooses the share window by scheme', () => {
    expect(shareWindow(10, 'prop', 8)).toEqual([10, 10])
    expect(shareWindow(10, 'pplns', 8)).toEqual([3, 10])
    expect(shareWindow(2, 'pplns', 8)).toEqual([0, 2])
    expect(() => shareWindow(-1, 'prop', 1)).toThrow()
    expect(() => shareWindow(1, 'pplns', 0)).toThrow()
  })
})
