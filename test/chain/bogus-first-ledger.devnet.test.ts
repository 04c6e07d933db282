// Regression (second review): the ledger clock took the first ledger it saw
// without a check, so a bogus FIRST answer (latestLedger = 2e9) froze the clock
// and the watcher's view for good: no block, no plant. Real answers that keep
// coming now re-anchor the clock, and the view follows it.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { devnetRig, opsOf, rowsJson, startPool, until } from './harness.js'
import { rpcProxy } from './rpc-proxy.js'

const FARMERS = 1
const BOGUS_LEDGER = 2_000_000_000

describe('a bogus first ledger', () => {
  it('regression: the clock and the watcher leave it once the real ledgers keep coming; the pool plants and works', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'bogus-first-ledger' })
    const { net, store, master, cap } = rig
    let lied = false
    // The very first answer that names a ledger, whichever method it is: the clock's first.
    const proxy = await rpcProxy(net.rpcUrl, (method, _params, result) => {
      if (lied) return
      const field = method === 'getLatestLedger' ? 'sequence' : 'latestLedger'
      if (typeof result[field] !== 'number') return
      lied = true
      result[field] = BOGUS_LEDGER
    })
    try {
      // Farmers made beside the proxy: the pool under test starts with a clock that has seen nothing.
      await ensureFarmers(startPool(net, store, master, cap.logger).chain.accounts, FARMERS)
      const pool = startPool({ ...net, rpcUrl: proxy.url }, store, master, cap.logger)
      rig.pools.push(pool)
      pool.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pool.chain.scheduler.start()
      // A work is timed by the clock (the rollover, the lead): it lands only if the clock left 2e9.
      await until(() => opsOf(store, 'work', 'done').length >= FARMERS, 120_000, () => rowsJson(store.ops.values()))
      await pool.chain.scheduler.shutdown()
      expect(lied).toBe(true)
      expect(pool.chain.clock.ledger).toBeLessThan(BOGUS_LEDGER)
      expect(cap.text).toContain('the clock re-anchors there')
    } finally {
      await rig.close()
      await proxy.close()
    }
  }, 200_000)
})
