import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { hasExpired, planPayouts, type Due, type Source } from '../../src/ledger/payouts.js'
import { thresholdStroops } from '../../src/ledger/payout-runner.js'
import { stroopsToAmount } from '../../src/chain/payments.js'
import { decodeTrustline, trustlineRoom } from '../../src/chain/contract.js'
import { Asset, Keypair, xdr } from '@stellar/stellar-sdk'

function trustlineEntry(flags: number, balance: bigint, limit: bigint, buying?: bigint): xdr.LedgerEntryData {
  const ext = buying === undefined
    ? xdr.TrustLineEntryExt.v0()
    : xdr.TrustLineEntryExt.v1(new xdr.TrustLineEntryV1({ liabilities: new xdr.Liabilities({ buying, selling: 0n }), ext: xdr.TrustLineEntryV1Ext.v0() }))
  return xdr.LedgerEntryData.trustline(new xdr.TrustLineEntry({
    accountId: Keypair.random().xdrPublicKey(),
    asset: new Asset('KALE', Keypair.random().publicKey()).toTrustLineXDRObject(),
    balance, limit, flags, ext,
  }))
}

const arbDue = fc.uniqueArray(fc.record({ miner: fc.string({ minLength: 1, maxLength: 6 }), amountStroops: fc.bigInt({ min: 1n, max: 10n ** 12n }) }), { selector: (d) => d.miner, maxLength: 50 })
const arbSources = fc.uniqueArray(fc.record({ publicKey: fc.string({ minLength: 1, maxLength: 6 }), availableStroops: fc.bigInt({ min: 0n, max: 10n ** 13n }) }), { selector: (s) => s.publicKey, maxLength: 6 })

function paidBy(batches: ReturnType<typeof planPayouts>): Map<string, bigint> {
  const m = new Map<string, bigint>()
  for (const b of batches) for (const p of b.payments) m.set(p.miner, (m.get(p.miner) ?? 0n) + p.amountStroops)
  return m
}

describe('payout plan', () => {
  it('never pays more than due or than a source holds; ≤ perTxMax payments; one batch per source', () => {
    fc.assert(
      fc.property(arbDue, arbSources, fc.integer({ min: 1, max: 100 }), (due, sources, perTx) => {
        const batches = planPayouts(due, sources, perTx)
        const srcs = new Map(sources.map((s) => [s.publicKey, s.availableStroops]))
        expect(new Set(batches.map((b) => b.source)).size).toBe(batches.length)
        for (const b of batches) {
          expect(b.payments.length).toBeGreaterThan(0)
          expect(b.payments.length).toBeLessThanOrEqual(perTx)
          expect(new Set(b.payments.map((p) => p.miner)).size).toBe(b.payments.length)
          expect(b.payments.reduce((a, p) => a + p.amountStroops, 0n)).toBeLessThanOrEqual(srcs.get(b.source)!)
          for (const p of b.payments) expect(p.amountStroops).toBeGreaterThan(0n)
        }
        const paid = paidBy(batches)
        for (const d of due) expect(paid.get(d.miner) ?? 0n).toBeLessThanOrEqual(d.amountStroops)
      }),
      { numRuns: 300 },
    )
  })

  it('pays everyone in full when the sources hold enough', () => {
    fc.assert(
      fc.property(arbDue, fc.integer({ min: 1, max: 5 }), (due, n) => {
        const total = due.reduce((a, d) => a + d.amountStroops, 0n)
        const sources: Source[] = Array.from({ length: n }, (_, i) => ({ publicKey: `S${i}`, availableStroops: total / BigInt(n) + 1n }))
        const paid = paidBy(planPayouts(due, sources))
        for (const d of due) expect(paid.get(d.miner)).toBe(d.amountStroops)
      }),
    )
  })

  it('is deterministic whatever the input order', () => {
    fc.assert(
      fc.property(arbDue, arbSources, (due, sources) => {
        expect(planPayouts([...due].reverse(), [...sources].reverse())).toEqual(planPayouts(due, sources))
      }),
    )
  })

  it('splits 250 miners over sources at 100 payments per transaction', () => {
    const due: Due[] = Array.from({ length: 250 }, (_, i) => ({ miner: `M${String(i).padStart(3, '0')}`, amountStroops: 10n }))
    const batches = planPayouts(due, [{ publicKey: 'A', availableStroops: 10_000n }, { publicKey: 'B', availableStroops: 10_000n }, { publicKey: 'C', availableStroops: 10_000n }])
    expect(batches.map((b) => b.payments.length)).toEqual([100, 100, 50])
    expect(planPayouts(due, [{ publicKey: 'A', availableStroops: 10_000n }]).flatMap((b) => b.payments)).toHaveLength(100)
    expect(planPayouts(due, [])).toEqual([])
    expect(planPayouts(due, [{ publicKey: 'A', availableStroops: 0n }])).toEqual([])
    expect(() => planPayouts(due, [], 101)).toThrow()
  })

  it('calls a missing transaction expired only past its bound on both clocks, within retention', () => {
    const maxTime = 1_000
    expect(hasExpired(maxTime, 1_001, 0, 1_011_001, 10, 60)).toBe(true)
    expect(hasExpired(maxTime, 1_000, 0, 2_000_000, 10, 60)).toBe(false) // ledger not past it
    expect(hasExpired(maxTime, 5_000, 0, 1_005_000, 10, 60)).toBe(false) // wall clock within margin
    expect(hasExpired(maxTime, 5_000, 990, 2_000_000, 10, 60)).toBe(false) // RPC no longer holds that time
  })

  it('converts amounts exactly', () => {
    expect(thresholdStroops(100)).toBe(1_000_000_000n)
    expect(thresholdStroops(0.0000001)).toBe(1n)
    expect(thresholdStroops(12.3456789)).toBe(123_456_789n)
    expect(() => thresholdStroops(0)).toThrow(/PAYOUT_THRESHOLD_KALE/)
    expect(stroopsToAmount(1n)).toBe('0.0000001')
    expect(stroopsToAmount(123_456_789n)).toBe('12.3456789')
    expect(() => stroopsToAmount(0n)).toThrow()
    expect(() => stroopsToAmount(2n ** 63n)).toThrow()
  })
})

// Regression (review finding 4): a trustline that exists is not enough to receive.
describe('trustline entry: may it receive, and how much', () => {
  it('reads the authorization flag: AUTHORIZED receives, MAINTAIN_LIABILITIES alone or none does not', () => {
    expect(decodeTrustline(trustlineEntry(1, 0n, 100n)).authorized).toBe(true)
    expect(decodeTrustline(trustlineEntry(2, 0n, 100n)).authorized).toBe(false)
    expect(decodeTrustline(trustlineEntry(0, 0n, 100n)).authorized).toBe(false)
    expect(decodeTrustline(trustlineEntry(1 | 4, 0n, 100n)).authorized).toBe(true)
  })

  it('room = limit − balance − buying liabilities, never negative', () => {
    expect(trustlineRoom(decodeTrustline(trustlineEntry(1, 30n, 100n)))).toBe(70n)
    expect(trustlineRoom(decodeTrustline(trustlineEntry(1, 30n, 100n, 50n)))).toBe(20n)
    expect(trustlineRoom(decodeTrustline(trustlineEntry(1, 100n, 100n)))).toBe(0n)
    expect(trustlineRoom(decodeTrustline(trustlineEntry(1, 90n, 100n, 50n)))).toBe(0n)
    expect(trustlineRoom(decodeTrustline(trustlineEntry(1, 0n, (1n << 63n) - 1n)))).toBe((1n << 63n) - 1n)
  })
})
