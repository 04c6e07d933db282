import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import { StrKey } from '@stellar/stellar-sdk'
import { PgChainStore } from '../../src/ledger/chain-store.js'
import type { ChainOpRecord } from '../../src/chain/store.js'
import { recordBlock, rewardSettledBlocks } from '../../src/ledger/credits.js'
import { writeShareBatch } from '../../src/ledger/shares.js'
import { createLedgerReads } from '../../src/ledger/queries.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { openTestDb, type TestDb } from './db.js'

const G = (i: number): string => StrKey.encodeEd25519PublicKey(Buffer.alloc(32, i))
const op = (o: Partial<ChainOpRecord> & Pick<ChainOpRecord, 'farmer' | 'block' | 'op' | 'status'>): ChainOpRecord => ({
  txHash: null, feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: Date.now(), ...o,
})
const NOW = Date.now()
const MINER = G(50)
const OTHER = G(51)

describe('ledger reads for the JSON API', () => {
  let db: TestDb
  beforeAll(async () => {
    db = await openTestDb('queries')
    const store = new PgChainStore(db.sql)
    for (const f of [G(1), G(2)]) await store.addFarmer({ publicKey: f, encryptedSecret: 'x', stakePercent: 0, status: 'active', createdAt: NOW })
    await store.setFarmerStatus(G(2), 'disabled')
    const stats = { minGap: 0n, maxGap: 0n, minStake: 0n, maxStake: 0n, minZeros: 0n, maxZeros: 0n }
    await recordBlock(db.sql, { index: 40, entropy: new Uint8Array(32), timestamp: 1_700_000_000, stats, ledger: 1 })
    await recordBlock(db.sql, { index: 41, entropy: new Uint8Array(32), timestamp: 1_700_000_300, stats, ledger: 61 }) // block 40 is over
    await store.recordOp(op({ farmer: G(1), block: 40, op: 'plant', status: 'done' }))
    await store.recordOp(op({ farmer: G(1), block: 40, op: 'work', status: 'done', zeros: 8 }))
    await store.recordOp(op({ farmer: G(1), block: 40, op: 'harvest', status: 'done', amountStroops: 1_000_000n }))
    await store.recordOp(op({ farmer: G(2), block: 41, op: 'plant', status: 'done' }))
    const minute = NOW - (NOW % 60_000)
    await writeShareBatch(db.sql, {
      id: 'q1',
      rows: [
        { block: 40, farmer: G(1), miner: MINER, worker: 'rig1', micro: 3_000_000n, shares: 2, bestZeros: 9, firstAt: NOW - 1000, lastAt: NOW },
        { block: 40, farmer: G(1), miner: MINER, worker: 'rig2', micro: 1_000_000n, shares: 1, bestZeros: 4, firstAt: NOW, lastAt: NOW },
        { block: 40, farmer: G(1), miner: OTHER, worker: 'default', micro: 4_000_000n, shares: 4, bestZeros: 3, firstAt: NOW, lastAt: NOW },
      ],
      minutes: [
        { minute, miner: MINER, worker: 'rig1', micro: 3_000_000n, shares: 2 },
        { minute, miner: MINER, worker: 'rig2', micro: 1_000_000n, shares: 1 },
        { minute, miner: OTHER, worker: 'default', micro: 4_000_000n, shares: 4 },
        { minute: minute - 3_600_000, miner: OTHER, worker: 'default', micro: 9_000_000n, shares: 9 }, // outside the window
      ],
    })
    await rewardSettledBlocks(db.sql, { feePercent: 10, scheme: 'prop', pplnsBlocks: 1 }, createMetrics(new Registry()))
    const [p] = await db.sql`INSERT INTO payouts (run_id, source, tx_hash, envelope_xdr, max_time, total_stroops, status)
      VALUES ('r', ${G(1)}, ${'ab'.repeat(32)}, 'AAAA', 1, 100, 'completed') RETURNING id`
    await db.sql`INSERT INTO payout_entries (payout_id, miner, amount_stroops) VALUES (${p!.id as bigint}, ${MINER}, 100)`
    await db.sql`INSERT INTO balance_entries (miner, amount_stroops, kind, cause, payout_id) VALUES (${MINER}, -100, 'payout', ${`payout:${String(p!.id)}:${MINER}`}, ${p!.id as bigint})`
    await db.sql`INSERT INTO payout_skips (miner, reason) VALUES (${MINER}, 'payout address has no KALE trustline')`
  })
  afterAll(async () => {
    await db?.dispose()
  })

  it('summarises recent shares, farmers and payouts', async () => {
    const reads = createLedgerReads(db.sql)
    expect(await reads.recentShares(NOW - 600_000)).toEqual({ difficulty: 8, miners: 2, workers: 3 })
    expect(await reads.farmerCounts()).toEqual({ active: 1, total: 2 })
    expect(await reads.paidStroops()).toBe(100n)
  })

  it('lists blocks newest first with counts, zeros, pot and fee; bounded and paged', async () => {
    const reads = createLedgerReads(db.sql)
    const rows = await reads.blocks(10)
    expect(rows.map((r) => r.index)).toEqual([41, 40])
    expect(rows[1]).toEqual({ index: 40, openedAt: 1_700_000_000, planted: 1, worked: 1, harvested: 1, bestZeros: 9, shares: 7, difficulty: 8, rewardStroops: 1_000_000n, feeStroops: 100_000n })
    expect(rows[0]).toMatchObject({ index: 41, openedAt: 1_700_000_300, planted: 1, worked: 0, bestZeros: null, rewardStroops: 0n })
    expect((await reads.blocks(1)).map((r) => r.index)).toEqual([41])
    expect((await reads.blocks(10, 41)).map((r) => r.index)).toEqual([40])
    expect(await reads.blocks(10, 0)).toEqual([])
  })

  it('details a miner: workers with hashrate, shares per block with credits, balance, payouts and skips', async () => {
    const reads = createLedgerReads(db.sql, () => NOW)
    const m = await reads.miner(MINER, 10, NOW - 600_000)
    expect(m).not.toBeNull()
    expect(m!.workers.map((w) => w.name)).toEqual(['rig1', 'rig2'])
    expect(m!.workers[0]!.hashrate10m).toBeCloseTo(3 / 600)
    expect(m!.hashrate10m).toBeCloseTo(4 / 600)
    // pot 1 000 000, fee 10 %: 900 000 split 4:4 between the two miners
    expect(m!.blocks).toEqual([{ index: 40, shares: 3, difficulty: 4, bestZeros: 9, creditStroops: 450_000n }])
    expect(m!.balanceStroops).toBe(450_000n - 100n)
    expect(m!.paidStroops).toBe(100n)
    expect(m!.payouts.map((p) => p.status).sort()).toEqual(['completed', 'skipped'])
    expect(m!.payouts.find((p) => p.status === 'skipped')!.reason).toMatch(/trustline/)
  })

  it('returns null for an unknown miner and hostile addresses alike', async () => {
    const reads = createLedgerReads(db.sql)
    expect(await reads.miner(G(99), 10, NOW)).toBeNull()
    expect(await reads.miner("'; DROP TABLE miners; --", 10, NOW)).toBeNull()
    expect(await reads.miner('x'.repeat(10_000), 10, NOW)).toBeNull()
  })

  it('lists farmers with the last block worked', async () => {
    const rows = await createLedgerReads(db.sql).farmers(10)
    expect(rows).toEqual([
      { publicKey: G(1), status: 'active', stakePercent: 0, lastBlockWorked: 40, zeros: 8 },
      { publicKey: G(2), status: 'disabled', stakePercent: 0, lastBlockWorked: null, zeros: null },
    ].sort((a, b) => (a.publicKey < b.publicKey ? -1 : 1)))
  })
})
