// Regression (rewards stuck): the process crashed after the plants of block N,
// before its works, and came back only blocks later. Every farmer had a row in
// N, none open, so the close-out sweep skipped the block: no work was ever
// recorded lost, and N (rewarded only once none of its pails is open) waited
// for the TTL backstop. The sweep now closes the works of done plants that have
// no settled work row.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { devnetRig, newStore, opsOf, rowsJson, startPool, until } from './harness.js'

const FARMERS = 3

describe('a crash after the plants of N, the restart two blocks later', () => {
  it('closes block N: its unworked pails are recorded lost', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'restart-late' })
    const { net, store, master, cap } = rig
    try {
      const a = startPool(net, store, master, cap.logger)
      await ensureFarmers(a.chain.accounts, FARMERS)
      const pa = rig.start()
      pa.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pa.chain.scheduler.start()
      await until(() => pa.blocks.length > 1, 120_000)
      const n = pa.blocks[1]!.index
      await until(() => opsOf(store, 'plant', 'done').filter((o) => o.block === n).length === FARMERS, 60_000, () => rowsJson(store.ops.values()))
      pa.chain.scheduler.stop() // the crash, before the works of N
      expect(opsOf(store, 'work').filter((o) => o.block === n)).toEqual([])
      // Someone else farms while the pool is down: blocks N+1 and N+2 open.
      const otherStore = newStore()
      const other = startPool(net, otherStore, master, cap.logger)
      await ensureFarmers(other.chain.accounts, 1)
      other.chain.scheduler.setFarmers(activeFarmers(await otherStore.listFarmers(), master))
      other.chain.scheduler.start()
      await until(() => other.blocks.some((b) => b.index >= n + 2), 120_000)
      other.chain.scheduler.stop()

      const pb = rig.start()
      pb.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pb.chain.scheduler.start()
      const lost = () => opsOf(store, 'work', 'lost').filter((o) => o.block === n)
      await until(() => lost().length === FARMERS, 120_000, () => rowsJson(store.ops.values()))
      await pb.chain.scheduler.shutdown()
      expect(lost().map((o) => o.reason)).toEqual(Array(FARMERS).fill(expect.stringContaining('none sent')))
      expect((await store.opsOfBlock(n)).filter((o) => o.status === 'pending' || o.status === 'failed')).toEqual([])
    } finally {
      await rig.close()
    }
  }, 400_000)
})
