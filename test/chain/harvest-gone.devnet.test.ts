// Regression (money loss): a harvest that succeeded was booked 'lost' with
// amount 0 when the pail was gone — the reward had been minted to the farmer but
// the block's pot said 0. Three ways the pail goes without us being told: the
// submitter reports "transaction outcome unknown" (with the hash) for a harvest
// that applied; a retry gets #9 after the first attempt applied; a third party
// harvests first (harvest needs no auth). The records must still match the
// devnet's balances to the stroop.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import type { TxResult } from '../../src/chain/submitter.js'
import { balanceMismatches, devnetRig, rowsJson, until, interceptSubmit } from './harness.js'

describe('harvest of a pail that is already gone', () => {
  it('records what the harvest minted: from the hash, or derived from the Block', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'harvest-gone' })
    const { net, store, master } = rig
    const pool = rig.start()
    try {
      await ensureFarmers(pool.chain.accounts, 3)
      const farmers = activeFarmers(await store.listFarmers(), master)
      const [unknown, thirdParty, retried] = farmers.map((f) => f.signer.publicKey) as [string, string, string]
      const stranger = farmers[2]!.signer
      const firstDone = new Set<string>()
      // Checked after the run: an expect() thrown inside submit would only be logged by the
      // scheduler's phase guard and the harvest retried, so the case would pass untested.
      const surprises: string[] = []
      const expectSuccess = (what: string, res: TxResult): void => void (res.status !== 'success' && surprises.push(`${what}: ${res.status}`))
      interceptSubmit(pool, async (req, submit) => {
        const pk = req.source.publicKey
        if (req.op !== 'harvest' || firstDone.has(pk)) return submit(req)
        firstDone.add(pk)
        if (pk === unknown) {
          const res = await submit(req)
          expectSuccess('first harvest (outcome unknown)', res)
          return { status: 'failed', reason: 'transaction outcome unknown', hash: res.status === 'success' ? res.hash : null, feeStroops: res.feeStroops }
        }
        if (pk === thirdParty) {
          // someone else's account harvests this farmer's pail first
          const res = await submit({ source: stranger, op: 'harvest', invoke: req.invoke })
          expectSuccess('third-party harvest', res)
          return submit(req)
        }
        if (pk === retried) {
          expectSuccess('first harvest (then retried)', await submit(req))
          return submit(req) // the retry: #9
        }
        return submit(req)
      })
      pool.chain.scheduler.setFarmers(farmers)
      pool.chain.scheduler.start()
      await until(() => pool.blocks.length > 0 && pool.harvested.some((h) => h.index === pool.blocks[0]!.index), 150_000, () => rowsJson(store.ops.values()))
      await pool.chain.scheduler.shutdown()
      expect(surprises).toEqual([])
      expect([...firstDone].sort()).toEqual([unknown, thirdParty, retried].sort())
      const b = pool.blocks[0]!.index
      const ops = await store.opsOfBlock(b)
      const harvest = (pk: string) => ops.find((o) => o.farmer === pk && o.op === 'harvest')
      for (const pk of [unknown, thirdParty, retried]) {
        expect(harvest(pk)?.status, rowsJson(ops)).toBe('done')
        expect(harvest(pk)!.amountStroops).toBeGreaterThan(0n)
      }
      expect(harvest(thirdParty)!.reason).toMatch(/derived from Block/)
      expect(pool.harvested.find((h) => h.index === b)!.rewards).toHaveLength(3)
      // what the store says each farmer got is what the devnet minted
      expect(await balanceMismatches(store, pool.chain, net)).toEqual([])
    } finally {
      await rig.close()
    }
  }, 200_000)
})
