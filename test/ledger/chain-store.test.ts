import { StrKey } from '@stellar/stellar-sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PgChainStore } from '../../src/ledger/chain-store.js'
import { MemoryChainStore, type ChainOpRecord, type ChainStore } from '../../src/chain/store.js'
import { openTestDb, type TestDb } from './db.js'

const G = (i: number): string => StrKey.encodeEd25519PublicKey(Buffer.alloc(32, i))
const op = (o: Partial<ChainOpRecord> & Pick<ChainOpRecord, 'farmer' | 'block' | 'op' | 'status'>): ChainOpRecord => ({
  txHash: null, feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: 1_700_000_000_000, ...o,
})

// The same script against the PostgreSQL store and the in-memory reference.
async function script(store: ChainStore): Promise<unknown> {
  await store.addFarmer({ publicKey: G(1), encryptedSecret: 'v1:abc', stakePercent: 12.5, status: 'active', createdAt: 1_700_000_000_000 })
  await store.addFarmer({ publicKey: G(2), encryptedSecret: 'v1:def', stakePercent: 0, status: 'active', createdAt: 1_700_000_000_001 })
  await store.addFarmer({ publicKey: G(1), encryptedSecret: 'v1:other', stakePercent: 99, status: 'disabled', createdAt: 1 })
  await store.setFarmerStatus(G(2), 'disabled')
  await store.recordOp(op({ farmer: G(1), block: 5, op: 'plant', status: 'pending', txHash: 'a'.repeat(64) }))
  await store.recordOp(op({ farmer: G(1), block: 5, op: 'plant', status: 'done', txHash: 'a'.repeat(64), feeStroops: 120n, amountStroops: 9_000_000_000_000n }))
  await store.recordOp(op({ farmer: G(1), block: 5, op: 'work', status: 'done', zeros: 7, gap: 40, updatedAt: 1_700_000_000_100 }))
  // A done row is final: a late "failed" answer of the same attempt is ignored.
  await store.recordOp(op({ farmer: G(1), block: 5, op: 'work', status: 'failed', reason: 'late answer', updatedAt: 1_700_000_000_150 }))
  await store.recordOp(op({ farmer: G(2), block: 5, op: 'work', status: 'done', zeros: 6, gap: 41, updatedAt: 1_700_000_000_050 }))
  await store.recordOp(op({ farmer: G(2), block: 5, op: 'harvest', status: 'lost', reason: 'TTL passed' }))
  await store.recordOp(op({ farmer: G(1), block: 6, op: 'plant', status: 'pending', updatedAt: 1_700_000_000_200 }))
  // Failed plants and works stay unsettled until the close-out sweep resolves them (one left failed froze its block's rewards).
  await store.recordOp(op({ farmer: G(2), block: 3, op: 'plant', status: 'failed', reason: 'txInsufficientBalance', updatedAt: 1_700_000_000_300 }))
  await store.recordOp(op({ farmer: G(1), block: 4, op: 'work', status: 'failed', reason: 'rejected', updatedAt: 1_700_000_000_400 }))
  await store.recordOp(op({ farmer: G(2), block: 4, op: 'harvest', status: 'failed', reason: 'retrying', updatedAt: 1_700_000_000_500 }))
  const sortOps = (xs: ChainOpRecord[]): ChainOpRecord[] => xs.sort((a, b) => a.block - b.block || a.farmer.localeCompare(b.farmer) || a.op.localeCompare(b.op))
  return {
    farmers: (await store.listFarmers()).sort((a, b) => a.publicKey.localeCompare(b.publicKey)),
    block5: sortOps(await store.opsOfBlock(5)),
    unsettled: (await store.unsettledOps()).map((o) => `${o.block}/${o.farmer.slice(-3)}/${o.op}/${o.status}`),
  }
}

describe('PgChainStore', () => {
  let db: TestDb
  beforeAll(async () => {
    db = await openTestDb('chain_store')
  })
  afterAll(async () => {
    await db?.dispose()
  })

  it('behaves like the in-memory reference store', async () => {
    const pg = await script(new PgChainStore(db.sql))
    const mem = await script(new MemoryChainStore())
    expect(pg).toEqual(mem)
    const r = pg as { farmers: { stakePercent: number; status: string; encryptedSecret: string }[]; unsettled: string[] }
    expect(r.farmers[0]).toMatchObject({ stakePercent: 12.5, status: 'active', encryptedSecret: 'v1:abc' })
    expect(r.farmers[1]).toMatchObject({ status: 'disabled' })
    expect((pg as { block5: ChainOpRecord[] }).block5.find((o) => o.farmer === G(1) && o.op === 'work')).toMatchObject({ status: 'done', zeros: 7, gap: 40, reason: null })
    expect(r.unsettled).toEqual([`3/${G(2).slice(-3)}/plant/failed`, `4/${G(1).slice(-3)}/work/failed`, `5/${G(1).slice(-3)}/work/done`, `6/${G(1).slice(-3)}/plant/pending`])
  })

  it('keeps amounts beyond 2^53 exact', async () => {
    const store = new PgChainStore(db.sql)
    await store.recordOp(op({ farmer: G(3), block: 9, op: 'harvest', status: 'done', amountStroops: 2n ** 62n + 1n, feeStroops: 2n ** 55n + 3n }))
    const [o] = await store.opsOfBlock(9)
    expect(o!.amountStroops).toBe(2n ** 62n + 1n)
    expect(o!.feeStroops).toBe(2n ** 55n + 3n)
  })

  it('refuses rows the schema forbids', async () => {
    const store = new PgChainStore(db.sql)
    await expect(store.recordOp(op({ farmer: G(3), block: 9, op: 'unplant' as never, status: 'done' }))).rejects.toThrow()
    await expect(store.recordOp(op({ farmer: G(3), block: -1, op: 'plant', status: 'done' }))).rejects.toThrow()
    await expect(store.recordOp(op({ farmer: G(3), block: 9, op: 'plant', status: 'done', amountStroops: -5n }))).rejects.toThrow()
    await expect(store.addFarmer({ publicKey: 'SNOTAKEY', encryptedSecret: 'x', stakePercent: 0, status: 'active', createdAt: 0 })).rejects.toThrow()
    await expect(store.addFarmer({ publicKey: G(4), encryptedSecret: 'x', stakePercent: 101, status: 'active', createdAt: 0 })).rejects.toThrow()
  })
})
