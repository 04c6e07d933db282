// Regression (money loss): a plant that landed after the work phase had started
// was never worked — the work phase took the planted list once — so the pail was
// closed as lost and its stake burned. Now the work phase also works the plants
// that complete while it runs.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { devnetRig, rowsJson, until, interceptSubmit } from './harness.js'

describe('a plant that lands once the works are due', () => {
  it('is worked and harvested', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'late-plant' })
    const { store, master } = rig
    const pool = rig.start({ workLeadSeconds: 30 })
    try {
      await ensureFarmers(pool.chain.accounts, 3)
      const farmers = activeFarmers(await store.listFarmers(), master)
      // the last farmer: never the opener (the first idle one opens)
      const late = farmers[2]!.signer.publicKey
      let lateBlock: number | undefined
      pool.chain.scheduler.once('block', (ev: { index: number }) => { lateBlock = ev.index })
      let worksStarted!: () => void
      const worksDue = new Promise<void>((r) => { worksStarted = r })
      let delayed = false
      interceptSubmit(pool, async (req, submit) => {
        if (req.op === 'work') worksStarted()
        if (req.op === 'plant' && req.source.publicKey === late && !delayed && lateBlock !== undefined && pool.blocks.at(-1)?.index === lateBlock) {
          delayed = true
          // held back until the work phase of the block has begun
          await worksDue
        }
        return submit(req)
      })
      pool.chain.scheduler.setFarmers(farmers)
      pool.chain.scheduler.start()
      await until(() => lateBlock !== undefined && pool.harvested.some((h) => h.index === lateBlock), 150_000, () => rowsJson(store.ops.values()))
      await pool.chain.scheduler.shutdown()
      expect(delayed).toBe(true)
      const ops = await store.opsOfBlock(lateBlock!)
      const of = (op: string) => ops.find((o) => o.farmer === late && o.op === op)
      expect(of('plant')?.status, rowsJson(ops)).toBe('done')
      expect(of('work')?.status, rowsJson(ops)).toBe('done')
      expect(of('harvest')?.status, rowsJson(ops)).toBe('done')
      expect(of('harvest')!.amountStroops).toBeGreaterThan(0n)
    } finally {
      await rig.close()
    }
  }, 200_000)
})
