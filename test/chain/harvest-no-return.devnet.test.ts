// Regression (review): a harvest that applied but whose getTransaction answer
// carried no result meta (no return value) was recorded with reward 0: the
// block's miners were credited nothing for KALE the chain minted. Its reward is
// now derived from Block(N) and the recorded gap, zeros and stake. A proxy strips
// the result meta from the answers about our harvest transactions.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { balanceMismatches, devnetRig, interceptSubmit, opsOf, rowsJson, startPool, until } from './harness.js'
import { rpcProxy } from './rpc-proxy.js'

const FARMERS = 2

describe('a harvest whose answer carries no return value', () => {
  it('regression: is recorded with the reward the chain minted, derived from the block', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'harvest-no-return' })
    const { net, store, master, cap } = rig
    const harvests = new Set<string>()
    let stripped = 0
    const proxy = await rpcProxy(net.rpcUrl, (method, params, result) => {
      if (method !== 'getTransaction' || !harvests.has(String(params.hash)) || result.status !== 'SUCCESS') return
      delete result.resultMetaXdr
      stripped++
    })
    const pool = startPool({ ...net, rpcUrl: proxy.url }, store, master, cap.logger)
    rig.pools.push(pool)
    interceptSubmit(pool, (req, submit) => {
      if (req.op !== 'harvest') return submit(req)
      const onSend = req.onSend
      return submit({ ...req, onSend: async (hash, data, signed) => { harvests.add(hash); await onSend?.(hash, data, signed) } })
    })
    try {
      await ensureFarmers(pool.chain.accounts, FARMERS)
      pool.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pool.chain.scheduler.start()
      await until(() => opsOf(store, 'harvest', 'done').length >= FARMERS, 150_000, () => rowsJson(store.ops.values()))
      await pool.chain.scheduler.shutdown()
      expect(stripped).toBeGreaterThanOrEqual(FARMERS)
      for (const h of opsOf(store, 'harvest', 'done')) expect(h.amountStroops, rowsJson([h])).toBeGreaterThan(0n)
      expect(cap.text).toContain('harvest applied without a return value: reward derived from the block')
      // What the books say each farmer harvested is what the chain minted.
      expect(await balanceMismatches(store, pool.chain, net)).toEqual([])
    } finally {
      await rig.close()
      await proxy.close()
    }
  }, 300_000)
})
