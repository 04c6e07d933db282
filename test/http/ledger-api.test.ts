// The JSON API over the real ledger: shares through the ShareBuffer, chain
// operations through PgChainStore, block rewards through rewardBlock, all in
// PostgreSQL (embedded, or DATABASE_URL), read back by the ledger's queries
// through the real PoolView and HTTP server. Also: the ledger's metrics move.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { StrKey } from '@stellar/stellar-sdk'
import { openTestDb, type TestDb } from '../ledger/db.js'
import { ShareBuffer } from '../../src/ledger/shares.js'
import { PgChainStore } from '../../src/ledger/chain-store.js'
import { recordBlock, rewardBlock } from '../../src/ledger/credits.js'
import { createLedgerReads } from '../../src/ledger/queries.js'
import { createPoolView, disableFarmerVia } from '../../src/http/pool-view.js'
import { startHttpServer, type HttpServer } from '../../src/http/server.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { silentLogger } from '../../src/log.js'
import type { ChainOpRecord } from '../../src/chain/store.js'

const g = () => StrKey.encodeEd25519PublicKey(randomBytes(32))
const MINER_A = g()
const MINER_B = g()
const STRANGER = g()
const FARMER = g()
const FARMER_2 = g()
const TOKEN = 'ledger-api-admin-token-0123'
const POT = 10_000_000_001n // stroops harvested in block 10

let db: TestDb
let http: HttpServer
const metrics = createMetrics()

function op(o: Partial<ChainOpRecord> & Pick<ChainOpRecord, 'farmer' | 'op'>): ChainOpRecord {
  return { block: 10, status: 'done', txHash: 'ab'.repeat(32), feeStroops: 1000n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: Date.now(), ...o }
}

async function scrape(series: string): Promise<number | undefined> {
  const text = await (await fetch(`${http.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const api = async (path: string, init?: RequestInit) => {
  const res = await fetch(http.url + path, init)
  return { status: res.status, body: (await res.json()) as any }
}

beforeAll(async () => {
  db = await openTestDb('http_api')
  const store = new PgChainStore(db.sql)
  for (const f of [FARMER, FARMER_2]) await store.addFarmer({ publicKey: f, encryptedSecret: 'x', stakePercent: 0, status: 'active', createdAt: Date.now() })
  await recordBlock(db.sql, { index: 10, entropy: randomBytes(32), timestamp: 1_700_000_000, ledger: 100, stats: { minGap: 0n, maxGap: 1n, minStake: 0n, maxStake: 0n, minZeros: 0n, maxZeros: 9n } })
  const view = createPoolView({
    reads: createLedgerReads(db.sql),
    admin: { addFarmers: async () => ({ publicKeys: [] }), disableFarmer: disableFarmerVia(store), runPayouts: async () => ({ payouts: 0, paidStroops: 0n, skipped: 0 }) },
    probes: { rpc: async () => {}, database: async () => void (await db.sql`SELECT 1`), stratumListening: () => true },
    metrics, poolFeePercent: 1, payoutScheme: 'prop', pplnsBlocks: 8, payoutThresholdKale: 100,
  })
  // No cache: these tests read back what they just wrote.
  http = await startHttpServer({ host: '127.0.0.1', port: 0, view, metrics, logger: silentLogger(), adminToken: TOKEN, viewCacheMs: 0 })
})
afterAll(async () => {
  await http?.close()
  await db?.dispose()
})

describe('API over the real ledger', () => {
  it('shares flushed by the ShareBuffer show in /api/pool, /api/miners and the db metrics', async () => {
    const buffer = new ShareBuffer({ sql: db.sql, flushMs: 60_000, rowsMax: 1000, metrics })
    const now = Date.now()
    for (let i = 0; i < 30; i++) buffer.add({ block: 10, farmer: FARMER, payoutAddress: MINER_A, worker: i % 2 ? 'rig1' : 'rig2', difficulty: 1000, zeros: 5 + (i % 3), at: now - i * 1000 })
    for (let i = 0; i < 10; i++) buffer.add({ block: 10, farmer: FARMER, payoutAddress: MINER_B, worker: 'box', difficulty: 1000, zeros: 4, at: now })
    expect(buffer.bufferedRows).toBeGreaterThan(0)
    await buffer.flush()
    expect(await scrape('kale_pool_db_buffered_rows')).toBe(0)
    expect(await scrape('kale_pool_db_flush_seconds_count')).toBeGreaterThanOrEqual(1)

    const pool = await api('/api/pool')
    expect(pool.status).toBe(200)
    expect(pool.body).toMatchObject({ miners: 2, workers: 3, farmers: { active: 2, total: 2 }, scheme: 'prop', feePercent: 1 })
    expect(pool.body.hashrate10m).toBeCloseTo(40_000 / 600, 6)

    const a = await api(`/api/miners/${MINER_A}`)
    expect(a.status).toBe(200)
    expect(a.body.workers.map((w: any) => w.name)).toEqual(['rig1', 'rig2'])
    expect(a.body.blocks).toEqual([{ index: 10, shares: 30, difficulty: 30_000, bestZeros: 7, creditStroops: null }])
    expect(a.body.balanceStroops).toBe('0')
    expect((await api(`/api/miners/${STRANGER}`)).status).toBe(404)
  })

  it('chain operations and the block reward show in /api/blocks, /api/farmers, balances and reward metrics', async () => {
    const store = new PgChainStore(db.sql)
    await store.recordOp(op({ farmer: FARMER, op: 'plant' }))
    await store.recordOp(op({ farmer: FARMER, op: 'work', zeros: 8, gap: 3 }))
    await store.recordOp(op({ farmer: FARMER, op: 'harvest', amountStroops: POT }))
    await store.recordOp(op({ farmer: FARMER_2, op: 'plant' }))
    await store.recordOp(op({ farmer: FARMER_2, op: 'work', status: 'lost', reason: 'too late' }))
    const reward = await rewardBlock(db.sql, 10, { feePercent: 1, scheme: 'prop', pplnsBlocks: 8 }, metrics)
    expect(reward).not.toBeNull()

    const blocks = await api('/api/blocks?limit=5')
    expect(blocks.status).toBe(200)
    expect(blocks.body.blocks).toHaveLength(1)
    const b = blocks.body.blocks[0]
    expect(b).toMatchObject({ index: 10, openedAt: 1_700_000_000, planted: 2, worked: 1, harvested: 1, bestZeros: 8, shares: 40, difficulty: 40_000 })
    expect(b.rewardStroops).toBe(POT.toString())
    expect(BigInt(b.feeStroops)).toBe(reward!.feeStroops)

    // The split is exact: credits + fee = pot, and the API shows each credit as a decimal string.
    const a = (await api(`/api/miners/${MINER_A}`)).body
    const bm = (await api(`/api/miners/${MINER_B}`)).body
    expect(BigInt(a.balanceStroops) + BigInt(bm.balanceStroops) + BigInt(b.feeStroops)).toBe(POT)
    expect(a.blocks[0].creditStroops).toBe(a.balanceStroops)
    expect(BigInt(a.balanceStroops)).toBeGreaterThan(BigInt(bm.balanceStroops))

    expect(await scrape('kale_pool_rewards_stroops_total')).toBe(Number(POT - reward!.feeStroops))
    expect(await scrape('kale_pool_fees_stroops_total')).toBe(Number(reward!.feeStroops))

    const farmers = await api('/api/farmers')
    expect(farmers.body.farmers).toEqual([
      expect.objectContaining({ publicKey: FARMER, status: 'active', lastBlockWorked: 10, zeros: 8 }),
      expect.objectContaining({ publicKey: FARMER_2, status: 'active', lastBlockWorked: null, zeros: null }),
    ])
  })

  it('admin disable goes through the chain store; unknown farmers 404; /health probes the database', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` }
    expect((await api(`/api/farmers/${FARMER_2}/disable`, { method: 'POST' })).status).toBe(401)
    expect((await api(`/api/farmers/${STRANGER}/disable`, { method: 'POST', headers: auth })).status).toBe(404)
    expect((await api(`/api/farmers/${FARMER_2}/disable`, { method: 'POST', headers: auth })).body).toEqual({ publicKey: FARMER_2, status: 'disabled' })
    const farmers = (await api('/api/farmers')).body.farmers
    expect(farmers.find((f: any) => f.publicKey === FARMER_2).status).toBe('disabled')
    expect((await api('/api/pool')).body.farmers).toEqual({ active: 1, total: 2 })
    const health = await api('/health')
    expect(health.body.database).toMatchObject({ ok: true, bufferedRows: 0 })
  })
})
