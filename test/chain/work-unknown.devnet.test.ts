// Regression (money loss): a work whose outcome we never learned (recorded
// 'failed' with its hash: an RPC outage outlasting the polls) did apply, and a
// third party harvested the pail before the close-out read it. The close-out
// only looked hashes up for 'pending' rows, so it recorded the work lost and
// the block settled without that pail's reward, though it was minted to the
// farmer. It now asks the hash whenever the pail is gone.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { harvestOp, harvestRewardOf } from '../../src/chain/contract.js'
import type { TxResult } from '../../src/chain/submitter.js'
import { balanceMismatches, devnetRig, rowsJson, startPool, until, interceptSubmit } from './harness.js'

/**
 * f0's first work applies, but its answer reaches the scheduler only after the
 * block ended and a third party (an account that is not the pool's farmer)
 * harvested the pail: as 'failed' with the hash, the outcome unknown.
 * `recordSend` false: the attempt's 'pending' row is not written either, so the
 * harvest phase cannot resolve it first and the close-out meets a failed row
 * with its pail gone.
 */
async function unknownWorkThenThirdPartyHarvest(seed: string, recordSend: boolean): Promise<void> {
  const rig = await devnetRig({ ledgerMs: 200, seed })
  const { net, store, master, cap } = rig
  try {
    const a = startPool(net, store, master, cap.logger)
    await ensureFarmers(a.chain.accounts, 4)
    const all = activeFarmers(await store.listFarmers(), master)
    const third = all[3]!
    const farmers = all.slice(0, 3)
    const f0 = farmers[0]!.signer.publicKey
    const pool = rig.start()
    let block: number | undefined
    let thirdParty: TxResult | undefined
    interceptSubmit(pool, async (req, submit) => {
      if (req.op !== 'work' || req.source.publicKey !== f0 || block !== undefined) return submit(req)
      block = pool.blocks.at(-1)!.index
      const res = await submit(recordSend ? req : { ...req, onSend: undefined })
      if (res.status !== 'success') return res
      await until(() => pool.blocks.some((b) => b.index > block!), 120_000)
      thirdParty = await a.chain.submitter.submit({ source: third.signer, op: 'harvest', invoke: harvestOp(net.contractId, f0, block) })
      return { status: 'failed', reason: 'transaction outcome unknown (test)', hash: res.hash, feeStroops: 0n }
    })
    pool.chain.scheduler.setFarmers(farmers)
    pool.chain.scheduler.start()
    const f0Rows = async () => (await store.opsOfBlock(block ?? -1)).filter((o) => o.farmer === f0)
    await until(async () => (await f0Rows()).some((o) => o.op === 'harvest' && o.status === 'done'), 200_000, () => rowsJson(store.ops.values()))
    // The close-out has run by now (the harvest phase harvests only after it resolved the work).
    await pool.chain.scheduler.shutdown()

    expect(thirdParty?.status).toBe('success')
    const rows = await f0Rows()
    expect(rows.find((o) => o.op === 'work'), rowsJson(rows)).toMatchObject({ status: 'done', gap: expect.any(Number) })
    // The reward the books derive from Block(N) is the one the chain minted.
    const reward = thirdParty?.status === 'success' ? harvestRewardOf(thirdParty.returnValue) : -1n
    expect(rows.find((o) => o.op === 'harvest')!.amountStroops).toBe(reward)
    expect(await balanceMismatches(store, pool.chain, net)).toEqual([])
  } finally {
    await rig.close()
  }
}

describe('a work whose outcome was unknown, its pail harvested by a third party', () => {
  it('the harvest phase finds the work applied by its hash; a late "failed" answer does not undo it', async () => {
    await unknownWorkThenThirdPartyHarvest('work-unknown-a', true)
  }, 400_000)

  it('the close-out asks the hash of a failed work whose pail is gone, and records it done', async () => {
    await unknownWorkThenThirdPartyHarvest('work-unknown-b', false)
  }, 400_000)
})
