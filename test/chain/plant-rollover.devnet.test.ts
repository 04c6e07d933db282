// Regression (stake counted twice, rewards stuck): plant() plants into the block
// current when it applies. A plant of block N held up past the rollover (a busy
// lane, TRY_AGAIN_LATER) planted N+1 but was booked as N's plant: N then held a
// done plant with no pail that nothing closed, and the stake was booked in both
// blocks. The plant is now booked under the block its footprint names.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { balanceMismatches, devnetRig, rowsJson, until, interceptSubmit } from './harness.js'

describe('a plant of block N that is sent after the rollover', () => {
  it('is booked under the block it landed in, not N', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'plant-rollover' })
    const { store, master, net } = rig
    const pool = rig.start({ workLeadSeconds: 30 })
    try {
      await ensureFarmers(pool.chain.accounts, 3)
      const farmers = activeFarmers(await store.listFarmers(), master)
      const late = farmers[2]!.signer.publicKey
      let n: number | undefined
      pool.chain.scheduler.once('block', (ev: { index: number }) => { n = ev.index })
      let release!: () => void
      const rolled = new Promise<void>((r) => { release = r })
      pool.chain.scheduler.on('block', (ev: { index: number }) => { if (n !== undefined && ev.index > n) release() })
      let held = false
      interceptSubmit(pool, async (req, submit) => {
        if (req.op === 'plant' && req.source.publicKey === late && !held && n !== undefined && pool.blocks.at(-1)?.index === n) {
          held = true
          await rolled // queued behind something else until block N+1 opened
        }
        return submit(req)
      })
      pool.chain.scheduler.setFarmers(farmers)
      pool.chain.scheduler.start()
      await until(() => n !== undefined && pool.harvested.some((h) => h.index === n! + 1), 200_000, () => rowsJson(store.ops.values()))
      await pool.chain.scheduler.shutdown()
      expect(held).toBe(true)
      const rowsN = (await store.opsOfBlock(n!)).filter((o) => o.farmer === late)
      // No plant of N for the late farmer (its pail of N never existed), so nothing of N waits on it.
      expect(rowsN.filter((o) => o.op === 'plant' && o.status === 'done'), rowsJson(rowsN)).toEqual([])
      expect((await store.opsOfBlock(n!)).filter((o) => o.status === 'pending' || o.status === 'failed')).toEqual([])
      // Its pail of N+1 was planted once, worked and harvested.
      const rowsN1 = (await store.opsOfBlock(n! + 1)).filter((o) => o.farmer === late)
      expect(rowsN1.map((o) => `${o.op}:${o.status}`).sort(), rowsJson(rowsN1)).toEqual(['harvest:done', 'plant:done', 'work:done'])
      expect(await balanceMismatches(store, pool.chain, net)).toEqual([])
    } finally {
      await rig.close()
    }
  }, 400_000)
})
