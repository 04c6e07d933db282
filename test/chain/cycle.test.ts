import { describe, it, expect } from 'vitest'
import { betterWork, chunks, contractErrorVerdict, derivedHarvestReward, harvestStep, isWorkDue, mayOpenNext, plantStep, rolloverAt, stakeOf, workLeadFor, workStep } from '../../src/chain/cycle.js'
import type { ChainOpRecord } from '../../src/chain/store.js'
import type { BestWork } from '../../src/events.js'
import { blockReward, harvestReward, normalizedSum } from '../../src/kale/reward.js'

const op = (p: Partial<ChainOpRecord>): ChainOpRecord => ({
  farmer: 'G', block: 5, op: 'plant', status: 'pending', txHash: 'ab', feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: 0, ...p,
})
const pail = (zeros: number | null = null) => ({ sequence: 10, gap: zeros === null ? null : 50, stake: 0n, zeros })

describe('block timing', () => {
  it('work is due WORK_LEAD seconds before the earliest rollover, not a second earlier', () => {
    expect(rolloverAt(1000)).toBe(1300)
    expect(isWorkDue(1000, 1284, 15)).toBe(false)
    expect(isWorkDue(1000, 1285, 15)).toBe(true)
    expect(isWorkDue(1000, 1400, 15)).toBe(true)
  })
  it('the next block may be opened only once the open one is 300 s old', () => {
    expect(mayOpenNext(1000, 1299)).toBe(false)
    expect(mayOpenNext(1000, 1300)).toBe(true)
  })
})

describe('workLeadFor', () => {
  it('is the configured lead while no RPC fault was seen', () => {
    expect(workLeadFor(15, 0, 200)).toBe(15)
    expect(workLeadFor(15, 0, 5000)).toBe(15)
  })
  it('adds the whole ledgers two recent faults in a row would cost, so a twice-retried work still lands first', () => {
    // an 800 ms hang plus backoff on 200 ms ledgers, twice: 9 more ledgers of 5 s
    expect(workLeadFor(15, 900, 200)).toBe(60)
    // a 503 retried within the ledger on a real network, twice: one more ledger
    expect(workLeadFor(15, 300, 5000)).toBe(20)
    expect(isWorkDue(1000, 1300 - 60, workLeadFor(15, 900, 200))).toBe(true)
    expect(isWorkDue(1000, 1300 - 61, workLeadFor(15, 900, 200))).toBe(false)
  })
  it('never exceeds half a block', () => {
    expect(workLeadFor(15, 60_000, 200)).toBe(150)
  })
})

describe('stakeOf', () => {
  it('takes a floored percentage of the balance', () => {
    expect(stakeOf(1_000_000_000n, 10)).toBe(100_000_000n)
    expect(stakeOf(999n, 12.5)).toBe(124n)
    expect(stakeOf(123n, 100)).toBe(123n)
  })
  it('is zero for zero, negative or NaN percent and empty balances', () => {
    expect(stakeOf(1000n, 0)).toBe(0n)
    expect(stakeOf(1000n, -5)).toBe(0n)
    expect(stakeOf(1000n, Number.NaN)).toBe(0n)
    expect(stakeOf(0n, 50)).toBe(0n)
    expect(stakeOf(-10n, 50)).toBe(0n)
  })
  it('never stakes more than the balance', () => {
    expect(stakeOf(1000n, 250)).toBe(1000n)
  })
})

describe('plantStep / workStep', () => {
  it('a pail on chain means planted whatever the store says', () => {
    expect(plantStep(undefined, pail())).toBe('done')
    expect(plantStep(op({ status: 'failed' }), pail())).toBe('done')
  })
  it('a recorded hash is checked before planting again', () => {
    expect(plantStep(op({ status: 'pending', txHash: 'ff' }), undefined)).toBe('pending')
    expect(plantStep(op({ status: 'pending', txHash: null }), undefined)).toBe('todo')
    expect(plantStep(op({ status: 'failed' }), undefined)).toBe('todo')
    expect(plantStep(undefined, undefined)).toBe('todo')
    expect(plantStep(op({ status: 'done' }), undefined)).toBe('done')
  })
  it('work: done when the pail has zeros, none without a pail', () => {
    expect(workStep(undefined, pail(3))).toBe('done')
    expect(workStep(undefined, pail(null))).toBe('todo')
    expect(workStep(undefined, undefined)).toBe('none')
    expect(workStep(op({ op: 'work', status: 'pending' }), pail(null))).toBe('pending')
    expect(workStep(op({ op: 'work', status: 'pending' }), undefined)).toBe('pending')
    expect(workStep(op({ op: 'work', status: 'done' }), undefined)).toBe('done')
  })
})

describe('harvestStep', () => {
  const base = { index: 5, farmIndex: 6, harvest: undefined, pail: pail(4), workLanded: true }
  it('harvests a worked pail of a finished block', () => {
    expect(harvestStep(base)).toEqual({ kind: 'harvest' })
  })
  it('waits while the block is still open', () => {
    expect(harvestStep({ ...base, farmIndex: 5 })).toEqual({ kind: 'wait' })
  })
  it('skips what is settled', () => {
    expect(harvestStep({ ...base, harvest: op({ op: 'harvest', status: 'done' }) })).toEqual({ kind: 'skip' })
    expect(harvestStep({ ...base, harvest: op({ op: 'harvest', status: 'lost' }) })).toEqual({ kind: 'skip' })
  })
  it('checks a pending hash before anything else', () => {
    expect(harvestStep({ ...base, harvest: op({ op: 'harvest', status: 'pending', txHash: 'cd' }), pail: undefined })).toEqual({ kind: 'check', txHash: 'cd' })
  })
  it('regression: a vanished pail is not lost outright — the scheduler finds out who harvested it', () => {
    // was { kind: 'lost' } (amount 0) although the reward had been minted to the farmer
    expect(harvestStep({ ...base, pail: undefined })).toEqual({ kind: 'gone' })
  })
  it('regression: a failed attempt with a hash ("outcome unknown") is checked before the pail is judged', () => {
    expect(harvestStep({ ...base, harvest: op({ op: 'harvest', status: 'failed', txHash: 'ef', reason: 'transaction outcome unknown' }), pail: undefined })).toEqual({ kind: 'check', txHash: 'ef' })
  })
  it('records the reason when it can no longer succeed', () => {
    expect(harvestStep({ ...base, pail: pail(null), workLanded: false })).toMatchObject({ kind: 'lost', reason: expect.stringMatching(/never worked/) })
  })
  it('regression: a pail read unworked after its work was confirmed is a stale read, harvested all the same (#10 decides)', () => {
    expect(harvestStep({ ...base, pail: pail(null) })).toEqual({ kind: 'harvest' })
  })
  // Regression (second review): a work row still pending (its hash not found on a lagging
  // node) with the pail read unworked was booked lost "never worked".
  it('waits while our work of the pail is pending and the pail reads unworked', () => {
    expect(harvestStep({ ...base, pail: pail(null), workLanded: false, workPending: true })).toEqual({ kind: 'wait' })
  })
  it('retries a failed harvest while the pail lives', () => {
    expect(harvestStep({ ...base, harvest: op({ op: 'harvest', status: 'failed', txHash: null }) })).toEqual({ kind: 'harvest' })
  })
})

describe('derivedHarvestReward', () => {
  const stats = { minGap: 2n, maxGap: 60n, minStake: 0n, maxStake: 50_000_000n, minZeros: 5n, maxZeros: 9n }
  const block = { stats, stakedTotal: 12_345n, normalizedTotal: 400n }
  it('is the contract\'s harvest reward from Block(N) and the recorded gap, zeros and stake', () => {
    const n = normalizedSum(stats, { gap: 55n, zeros: 7n, stake: 10_000_000n })
    const want = harvestReward(40_000, n, 12_345n, 400n)
    expect(want).toBeGreaterThan(0n)
    expect(derivedHarvestReward(40_000, block, { gap: 55, zeros: 7, stake: 10_000_000n })).toBe(want)
    // by hand: S = 50_000_000, ng = floor(53·S/58), ns = floor(10^7·S/(5·10^7)), nz = floor(2·S/4)
    const byHand = 45_689_655n + 10_000_000n + 25_000_000n
    expect(n).toBe(byHand)
    expect(want).toBe((byHand * (blockReward(40_000) + 12_345n)) / 400n)
  })
  it('is unknown when the gap, zeros or stake were not recorded', () => {
    expect(derivedHarvestReward(1, block, { gap: null, zeros: 7, stake: 0n })).toBeNull()
    expect(derivedHarvestReward(1, block, { gap: 5, zeros: null, stake: 0n })).toBeNull()
    expect(derivedHarvestReward(1, block, { gap: 5, zeros: 7, stake: null })).toBeNull()
  })
})

describe('contractErrorVerdict', () => {
  it('maps the contract errors per operation', () => {
    expect(contractErrorVerdict('plant', 8)).toBe('done')
    expect(contractErrorVerdict('plant', 4)).toBe('retry')
    expect(contractErrorVerdict('plant', 6)).toBe('lost')
    expect(contractErrorVerdict('work', 7)).toBe('done')
    expect(contractErrorVerdict('work', 15)).toBe('retry')
    expect(contractErrorVerdict('work', 9)).toBe('lost')
    expect(contractErrorVerdict('work', 13)).toBe('lost')
    expect(contractErrorVerdict('harvest', 14)).toBe('retry')
    expect(contractErrorVerdict('harvest', 10)).toBe('lost')
    expect(contractErrorVerdict('harvest', 9)).toBe('lost')
  })
})

describe('betterWork', () => {
  const w = (zeros: number, first: number): BestWork => ({ index: 1, farmer: 'G', nonce: 0n, zeros, hash: Uint8Array.from([first, ...new Array(31).fill(0)]) })
  it('prefers more zeros, then the lower hash, and tolerates undefined', () => {
    expect(betterWork(w(3, 9), w(4, 1))!.zeros).toBe(4)
    expect(betterWork(w(3, 9), w(3, 1))!.hash[0]).toBe(1)
    expect(betterWork(undefined, w(2, 2))!.zeros).toBe(2)
    expect(betterWork(w(2, 2), undefined)!.zeros).toBe(2)
    expect(betterWork(undefined, undefined)).toBeUndefined()
  })
})

describe('chunks', () => {
  it('splits into ≤ size pieces', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]])
    expect(chunks([], 200)).toEqual([])
    expect(chunks(Array.from({ length: 401 }, (_, i) => i), 200).map((c) => c.length)).toEqual([200, 200, 1])
  })
})
