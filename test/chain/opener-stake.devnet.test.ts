// Regression: the plant that opens the next block was sent with stake 0 whatever
// the opener's stake policy, so the opener's pail of every block was unstaked.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { devnetRig, rowsJson, until } from './harness.js'

describe('the opener of a block', () => {
  it('stakes by its policy like every other farmer', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'opener-stake' })
    const { store, master } = rig
    const pool = rig.start()
    try {
      await ensureFarmers(pool.chain.accounts, 2)
      for (const f of store.farmers.values()) f.stakePercent = 50
      pool.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pool.chain.scheduler.start()
      // The first block's harvest gives both farmers KALE; two blocks later both plants stake.
      const target = async (): Promise<number | undefined> => {
        const first = pool.blocks[0]?.index
        return first === undefined ? undefined : first + 2
      }
      await until(async () => {
        const n = await target()
        if (n === undefined) return false
        const plants = (await store.opsOfBlock(n)).filter((o) => o.op === 'plant' && o.status === 'done')
        return plants.length === 2
      }, 150_000)
      await pool.chain.scheduler.shutdown()
      const n = (await target())!
      const first = (await store.opsOfBlock(n - 2)).filter((o) => o.op === 'harvest' && o.status === 'done')
      expect(first.length, rowsJson(store.ops.values())).toBe(2)
      const plants = (await store.opsOfBlock(n)).filter((o) => o.op === 'plant')
      for (const p of plants) expect(p.amountStroops, rowsJson(plants)).toBeGreaterThan(0n)
    } finally {
      await rig.close()
    }
  }, 200_000)
})
