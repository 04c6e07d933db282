// Regression (money loss): a farmer disabled after it had planted was never
// worked or harvested — the work phase dropped inactive farmers and the harvest
// needed the farmer's own signer — so its stake burned. work and harvest need no
// auth (KALE.md): the pail is worked with the farmer's own account while the
// pool still holds its key, and harvested by another farmer's account after a
// restart that no longer loads it.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import type { PlantedEvent } from '../../src/events.js'
import { balanceMismatches, devnetRig, rowsJson, until } from './harness.js'

describe('a farmer disabled after planting', () => {
  it('still has its pail worked and harvested', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'disabled' })
    const { net, store, master } = rig
    try {
      const a = rig.start()
      await ensureFarmers(a.chain.accounts, 3)
      const farmers = activeFarmers(await store.listFarmers(), master)
      const gone = farmers[2]!.signer.publicKey
      const rest = farmers.slice(0, 2)
      let block: number | undefined
      a.chain.scheduler.on('planted', (ev: PlantedEvent) => {
        if (block === undefined && ev.farmers.includes(gone)) {
          block = ev.index
          a.chain.scheduler.setFarmers(rest) // disabled mid-block
        }
      })
      a.chain.scheduler.setFarmers(farmers)
      a.chain.scheduler.start()
      const workOf = async () => (await store.opsOfBlock(block!)).find((o) => o.farmer === gone && o.op === 'work')
      await until(async () => block !== undefined && (await workOf())?.status === 'done', 90_000, () => rowsJson(store.ops.values()))
      // a restarted pool that no longer loads the disabled farmer's key harvests it
      a.chain.scheduler.stop()
      const b = rig.start()
      b.chain.scheduler.setFarmers(rest)
      b.chain.scheduler.start()
      await until(async () => (await store.opsOfBlock(block!)).find((o) => o.farmer === gone && o.op === 'harvest')?.status === 'done', 90_000, () => rowsJson(store.ops.values()))
      await b.chain.scheduler.shutdown()
      const h = (await store.opsOfBlock(block!)).find((o) => o.farmer === gone && o.op === 'harvest')!
      expect(h.amountStroops).toBeGreaterThan(0n)
      expect(await balanceMismatches(store, b.chain, net)).toEqual([])
    } finally {
      await rig.close()
    }
  }, 200_000)
})
