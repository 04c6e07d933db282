import { describe, it, expect } from 'vitest'
import { WriteBehindChainStore } from '../../src/chain/write-behind-store.js'
import { MemoryChainStore, type ChainOpRecord, type ChainStore } from '../../src/chain/store.js'
import { silentLogger } from '../../src/log.js'
import { isPoolError } from '../../src/errors.js'

const op = (o: Partial<ChainOpRecord> & Pick<ChainOpRecord, 'farmer' | 'block' | 'op' | 'status'>): ChainOpRecord => ({
  txHash: null, feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: Date.now(), ...o,
})

/** A store whose database can be taken away. */
class FlakyStore extends MemoryChainStore {
  down = false
  writes = 0
  private check(): void {
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
  }
  override async recordOp(o: ChainOpRecord): Promise<void> {
    this.check()
    this.writes++
    return super.recordOp(o)
  }
  override async opsOfBlock(b: number): Promise<ChainOpRecord[]> {
    this.check()
    return super.opsOfBlock(b)
  }
  override async unsettledOps(): Promise<ChainOpRecord[]> {
    this.check()
    return super.unsettledOps()
  }
}

const until = async (fn: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('write-behind chain store', () => {
  it('records without waiting for an absent database and writes everything once it returns', async () => {
    const db = new FlakyStore()
    const store = new WriteBehindChainStore(db, { log: silentLogger(), retryMs: 20 })
    db.down = true
    await store.recordOp(op({ farmer: 'GA', block: 5, op: 'plant', status: 'done' }))
    await store.recordOp(op({ farmer: 'GA', block: 5, op: 'work', status: 'pending', txHash: 'aa' }))
    await store.recordOp(op({ farmer: 'GA', block: 5, op: 'work', status: 'done', txHash: 'aa', zeros: 7 }))
    // reads of a recent block are served from memory while the database is away
    const ops = await store.opsOfBlock(5)
    expect(ops.map((o) => `${o.op}:${o.status}`).sort()).toEqual(['plant:done', 'work:done'])
    await expect(store.opsOfBlock(1)).rejects.toThrow(/ECONNREFUSED/) // older than anything in memory
    expect(await store.opsOfBlock(6)).toEqual([]) // a new block: nothing recorded for it yet
    expect(store.unwrittenCount).toBe(2)
    db.down = false
    await until(() => store.unwrittenCount === 0)
    expect((await db.opsOfBlock(5)).find((o) => o.op === 'work')).toMatchObject({ status: 'done', zeros: 7 })
    expect(await store.close(100)).toBe(true)
  })

  it('merges unwritten records over stored ones and computes what is unsettled from both', async () => {
    const db = new FlakyStore()
    const store = new WriteBehindChainStore(db, { log: silentLogger(), retryMs: 20 })
    await db.recordOp(op({ farmer: 'GB', block: 3, op: 'work', status: 'done' }))
    db.down = true
    await store.recordOp(op({ farmer: 'GB', block: 3, op: 'harvest', status: 'done', amountStroops: 5n }))
    db.down = false
    // the harvest may still be unwritten: the work must not look unsettled either way
    expect((await store.unsettledOps()).filter((o) => o.farmer === 'GB')).toEqual([])
    await until(() => store.unwrittenCount === 0)
  })

  it('a done row is final: a later record that is not done is ignored, here and over a stored done row', async () => {
    const db = new FlakyStore()
    const store = new WriteBehindChainStore(db, { log: silentLogger(), retryMs: 20 })
    db.down = true
    await store.recordOp(op({ farmer: 'GC', block: 7, op: 'work', status: 'done', txHash: 'aa', zeros: 6, gap: 30 }))
    // a late answer of the same attempt (outcome unknown, then "failed")
    await store.recordOp(op({ farmer: 'GC', block: 7, op: 'work', status: 'failed', txHash: 'aa', reason: 'late' }))
    expect(await store.opsOfBlock(7)).toEqual([expect.objectContaining({ status: 'done', zeros: 6, gap: 30 })])
    db.down = false
    await until(() => store.unwrittenCount === 0)
    expect(await db.opsOfBlock(7)).toEqual([expect.objectContaining({ status: 'done', zeros: 6, gap: 30 })])
    // The database's own done row (another process wrote it) wins over this process's unwritten one.
    await db.recordOp(op({ farmer: 'GC', block: 8, op: 'work', status: 'done', zeros: 5, gap: 31 }))
    db.down = true
    await store.recordOp(op({ farmer: 'GC', block: 8, op: 'work', status: 'failed', reason: 'late' }))
    db.down = false
    expect((await store.opsOfBlock(8)).map((o) => o.status)).toEqual(['done'])
    expect((await store.unsettledOps()).filter((o) => o.block === 8).map((o) => o.status)).toEqual(['done'])
    await until(() => store.unwrittenCount === 0)
    expect((await db.opsOfBlock(8)).map((o) => o.status)).toEqual(['done'])
  })

  it('is bounded: beyond unwrittenMax a record is refused with BUSY', async () => {
    const db = new FlakyStore()
    db.down = true
    const store = new WriteBehindChainStore(db, { log: silentLogger(), retryMs: 1000, unwrittenMax: 2 })
    await store.recordOp(op({ farmer: 'G1', block: 1, op: 'plant', status: 'done' }))
    await store.recordOp(op({ farmer: 'G2', block: 1, op: 'plant', status: 'done' }))
    await store.recordOp(op({ farmer: 'G2', block: 1, op: 'plant', status: 'done', reason: 'same key: an update, not a new row' }))
    let err: unknown
    try {
      await store.recordOp(op({ farmer: 'G3', block: 1, op: 'plant', status: 'done' }))
    } catch (e) {
      err = e
    }
    expect(isPoolError(err, 'BUSY')).toBe(true)
    expect(await store.close(50)).toBe(false)
  })

  it('keeps the latest version when a record changes while being written', async () => {
    const inner = new MemoryChainStore()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const slow: ChainStore = Object.assign(Object.create(inner) as ChainStore, {
      recordOp: async (o: ChainOpRecord) => {
        await gate
        return inner.recordOp(o)
      },
    })
    const store = new WriteBehindChainStore(slow, { log: silentLogger(), retryMs: 10 })
    await store.recordOp(op({ farmer: 'GC', block: 9, op: 'harvest', status: 'pending' }))
    await store.recordOp(op({ farmer: 'GC', block: 9, op: 'harvest', status: 'done', amountStroops: 3n }))
    release()
    await until(() => store.unwrittenCount === 0)
    expect((await inner.opsOfBlock(9))[0]).toMatchObject({ status: 'done', amountStroops: 3n })
  })
})
