// Kill the scheduler mid-block — once while plants are in flight, once while
// harvests are in flight — and start a fresh one (new RPC client, submitter and
// memory) on the same store: nothing is done twice, pending harvests complete.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import type { ChainOpRecord } from '../../src/chain/store.js'
import { balanceMismatches, devnetRig, opsOf, rowsJson, secretStrKey, startPool, until, type PoolHandle } from './harness.js'

const FARMERS = 8

describe('restart mid-block', () => {
  it('resumes pending plants and harvests without doing anything twice', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'restart' })
    const { net, store, master, cap } = rig
    const start = async (): Promise<PoolHandle> => {
      const p = rig.start()
      p.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      p.chain.scheduler.start()
      return p
    }
    // kill when the first `pending` record of `op` in a block after `after` is written
    let killAt: { op: string; after: number; pool: PoolHandle } | undefined
    const record = store.recordOp.bind(store)
    store.recordOp = async (op: ChainOpRecord) => {
      await record(op)
      const k = killAt
      if (k && op.op === k.op && op.status === 'pending' && op.block > k.after) {
        killAt = undefined
        k.pool.chain.scheduler.stop()
      }
    }
    try {
      const a = startPool(net, store, master, cap.logger)
      await ensureFarmers(a.chain.accounts, FARMERS)
      const pa = await start()
      await until(() => pa.blocks.length > 0, 60_000)
      const b0 = pa.blocks[0]!.index
      // 1. kill A while the plants of the next block are in flight
      killAt = { op: 'plant', after: b0, pool: pa }
      await until(() => killAt === undefined, 120_000)
      const killedPlantBlock = Math.max(...opsOf(store, 'plant').map((o) => o.block))
      const pb = await start()
      // 2. kill B while harvests are in flight
      killAt = { op: 'harvest', after: b0 - 1, pool: pb }
      await until(() => killAt === undefined, 120_000)
      expect(opsOf(store, 'harvest', 'pending').length).toBeGreaterThan(0)
      const pc = await start()
      // C completes: every pail of the blocks up to the killed plant block harvested
      await until(() => [b0, killedPlantBlock].every((n) => opsOf(store, 'harvest', 'done').filter((o) => o.block === n).length === FARMERS), 150_000)
      await pc.chain.scheduler.shutdown()

      for (const n of [b0, killedPlantBlock]) {
        for (const pk of store.farmers.keys()) {
          const ops = (await store.opsOfBlock(n)).filter((o) => o.farmer === pk)
          expect(ops.map((o) => `${o.op}:${o.status}`).sort(), `${pk} block ${n}`).toEqual(['harvest:done', 'plant:done', 'work:done'])
        }
      }
      expect(opsOf(store, 'harvest', 'pending').filter((o) => o.block <= killedPlantBlock)).toEqual([])
      // across all three schedulers: at most one successful plant/harvest per recorded pail
      for (const pk of store.farmers.keys()) {
        for (const op of ['plant', 'harvest'] as const) {
          const total = rig.pools.reduce((s, p) => s + (p.successes.get(`${op}/${pk}`) ?? 0), 0)
          expect(total, `${op} ${pk}`).toBeLessThanOrEqual(opsOf(store, op, 'done').filter((o) => o.farmer === pk).length)
        }
      }
      expect(await balanceMismatches(store, pc.chain, net)).toEqual([])
      // no farmer's secret seed in the logs or the stored rows
      for (const f of store.farmers.values()) {
        const s = secretStrKey(master, f.publicKey, f.encryptedSecret)
        expect(cap.text).not.toContain(s)
        expect(rowsJson(store.ops.values())).not.toContain(s)
      }
    } finally {
      await rig.close()
    }
  }, 400_000)
})
