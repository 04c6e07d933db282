// Regression (money loss): rows of a block written behind while the database was
// away are lost when the process ends before it comes back. A restart after the
// rollover found no row for that block, so nothing harvested its worked pails:
// stake and reward stayed on chain until the pails' TTL, and the block's miners
// were never credited. The restarted process's look-back now reads the pails of
// farmers without a row and settles them from the chain.
import { describe, it, expect } from 'vitest'
import { ensureFarmers } from '../../src/chain/farmers.js'
import { balanceMismatches, devnetRig, farm, opsOf, rowsJson, startPool, until, workedBlock, type PoolHandle } from './harness.js'

const FARMERS = 3

describe('a past block whose rows were never written', () => {
  it('is recovered from its pails by the restarted process: planted, worked and harvested once', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'lost-rows' })
    const { net, store, master, cap } = rig
    // The first process never harvests: its block N must still hold its pails when it ends.
    const start = (holdHarvests: boolean): Promise<PoolHandle> => farm(rig.start(), store, master, holdHarvests)
    try {
      const a = startPool(net, store, master, cap.logger)
      await ensureFarmers(a.chain.accounts, FARMERS)
      const pa = await start(true)
      const n = await workedBlock(pa, store, FARMERS)
      await pa.chain.scheduler.shutdown()
      // The database never saw block N: its rows are gone with the process.
      const lost = [...store.ops.entries()].filter(([, o]) => o.block === n)
      for (const op of ['plant', 'work']) expect(lost.filter(([, o]) => o.op === op && o.status === 'done'), op).toHaveLength(FARMERS)
      for (const [k] of lost) store.ops.delete(k)
      // One farmer is disabled before the restart: its pail of N is recovered too.
      const disabled = [...store.farmers.keys()][0]!
      await store.setFarmerStatus(disabled, 'disabled')

      const pb = await start(false)
      await until(() => opsOf(store, 'harvest', 'done').filter((o) => o.block === n).length === FARMERS, 150_000, () => rowsJson(store.ops.values()))
      await pb.chain.scheduler.shutdown()
      for (const pk of store.farmers.keys()) {
        const ops = (await store.opsOfBlock(n)).filter((o) => o.farmer === pk)
        expect(ops.map((o) => `${o.op}:${o.status}`).sort(), pk).toEqual(['harvest:done', 'plant:done', 'work:done'])
        const was = (op: string) => lost.find(([, o]) => o.farmer === pk && o.op === op)![1]
        // From the pail: the plant's stake, and the work's zeros and gap.
        expect(ops.find((o) => o.op === 'plant')!.amountStroops).toBe(was('plant').amountStroops)
        expect(ops.find((o) => o.op === 'work')).toMatchObject({ zeros: was('work').zeros, gap: was('work').gap })
        expect(ops.find((o) => o.op === 'harvest')!.amountStroops).toBeGreaterThan(0n)
      }
      // Harvested by the restarted process (the disabled farmer's by another farmer as source: harvest needs no auth).
      expect([...pb.successes].filter(([k]) => k.startsWith('harvest/')).reduce((n, [, v]) => n + v, 0)).toBeGreaterThanOrEqual(FARMERS)
      expect(cap.text).toContain('pails without a row recovered from the chain')
      // The books agree with the chain: every stake and harvest recorded once.
      expect(await balanceMismatches(store, pb.chain, net)).toEqual([])
    } finally {
      await rig.close()
    }
  }, 400_000)
})
