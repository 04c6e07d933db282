// Regression (money loss): a work answered #7 (the pail already holds an earlier
// work of ours: sent before a restart, or its answer missed) was booked done with
// no gap and our unsent zeros. When a third party then harvested the pail, the
// reward could not be derived (gap unknown) and the harvest was booked lost,
// though the chain minted it to the farmer. The pail's zeros and gap are now read.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { harvestRewardOf } from '../../src/chain/contract.js'
import type { TxResult } from '../../src/chain/submitter.js'
import { balanceMismatches, devnetRig, rowsJson, until, interceptSubmit } from './harness.js'

describe('a work answered #7, its pail then harvested by a third party', () => {
  it('books the work from the pail and the harvest done at the reward the chain minted', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'work-seven' })
    const { net, store, master } = rig
    const pool = rig.start()
    try {
      await ensureFarmers(pool.chain.accounts, 3)
      const farmers = activeFarmers(await store.listFarmers(), master)
      const f0 = farmers[0]!.signer.publicKey
      const stranger = farmers[2]!.signer
      let block: number | undefined
      let second: TxResult | undefined
      let thirdParty: TxResult | undefined
      interceptSubmit(pool, async (req, submit) => {
        const pk = req.source.publicKey
        if (req.op === 'work' && pk === f0 && block === undefined) {
          block = pool.blocks.at(-1)!.index
          await submit({ ...req, onSend: undefined }) // applied, its row never written (a process before a restart)
          second = await submit(req)
          return second
        }
        if (req.op === 'harvest' && pk === f0 && thirdParty === undefined && block !== undefined) {
          thirdParty = await submit({ source: stranger, op: 'harvest', invoke: req.invoke })
        }
        return submit(req)
      })
      pool.chain.scheduler.setFarmers(farmers)
      pool.chain.scheduler.start()
      const f0Rows = async () => (await store.opsOfBlock(block ?? -1)).filter((o) => o.farmer === f0)
      await until(async () => (await f0Rows()).some((o) => o.op === 'harvest' && (o.status === 'done' || o.status === 'lost')), 150_000, () => rowsJson(store.ops.values()))
      await pool.chain.scheduler.shutdown()
      expect(second).toMatchObject({ status: 'contract-error', code: 7 })
      expect(thirdParty?.status).toBe('success')
      const rows = await f0Rows()
      expect(rows.find((o) => o.op === 'work'), rowsJson(rows)).toMatchObject({ status: 'done', gap: expect.any(Number), zeros: expect.any(Number) })
      const reward = thirdParty?.status === 'success' ? harvestRewardOf(thirdParty.returnValue) : -1n
      expect(rows.find((o) => o.op === 'harvest'), rowsJson(rows)).toMatchObject({ status: 'done', amountStroops: reward })
      expect(await balanceMismatches(store, pool.chain, net)).toEqual([])
    } finally {
      await rig.close()
    }
  }, 400_000)
})
