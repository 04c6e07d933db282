// Regression (review finding 1): one RPC answer with latestLedger = 2e9 stopped
// the block cycle and wrote off the pending harvests. The watcher's view took
// max(getLatestLedger, getLedgerEntries.latestLedger), so every later poll was
// "not newer" (no blocks, no plants, no works), and the harvest phase compared
// each pail's liveUntil with 2e9: every due pail booked lost "pail TTL expired".
// The ledger clock, fed by simulations and getTransaction the same way, froze its
// close time: every maxTime in the past. Here a proxy makes one answer of each
// kind say 2e9; the pool must keep cycling and lose nothing.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { balanceMismatches, devnetRig, opsOf, rowsJson, startPool, until } from './harness.js'
import { rpcProxy } from './rpc-proxy.js'

const FARMERS = 2
const BOGUS_LEDGER = 2_000_000_000
/** methods whose next answer (after arming) names the bogus ledger, and the field */
const LIES: Record<string, string> = { getLatestLedger: 'sequence', getLedgerEntries: 'latestLedger', simulateTransaction: 'latestLedger', getTransaction: 'latestLedger' }

describe('an RPC answer naming a ledger far in the future', () => {
  it('regression: one latestLedger = 2e9 neither stops the block cycle nor writes off pails', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'bad-latest-ledger' })
    const { net, store, master, cap } = rig
    let armed = false
    const lied = new Set<string>()
    const proxy = await rpcProxy(net.rpcUrl, (method, _params, result) => {
      const field = LIES[method]
      if (!armed || !field || lied.has(method) || typeof result[field] !== 'number') return
      lied.add(method)
      result[field] = BOGUS_LEDGER
    })
    const pool = startPool({ ...net, rpcUrl: proxy.url }, store, master, cap.logger)
    rig.pools.push(pool)
    try {
      await ensureFarmers(pool.chain.accounts, FARMERS)
      pool.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pool.chain.scheduler.start()
      // Armed once the pool has planted a block: its works and harvests are still to come.
      await until(() => opsOf(store, 'plant', 'done').length >= FARMERS, 60_000, () => rowsJson(store.ops.values()))
      const first = pool.blocks[0]!.index
      armed = true
      await until(() => Object.keys(LIES).every((m) => lied.has(m)), 60_000, () => `lied: ${[...lied].join(', ')}`)
      // Two more blocks opened after the lies, and the first block's pails harvested.
      await until(() => pool.blocks.some((b) => b.index >= first + 2) && pool.harvested.some((h) => h.index === first), 150_000, () => rowsJson(store.ops.values()))
      await pool.chain.scheduler.shutdown()
      const rows = [...store.ops.values()].filter((o) => o.block === first)
      for (const pk of store.farmers.keys()) {
        expect(rows.filter((o) => o.farmer === pk).map((o) => `${o.op}:${o.status}`).sort(), rowsJson(rows)).toEqual(['harvest:done', 'plant:done', 'work:done'])
      }
      expect(opsOf(store, 'harvest', 'lost'), rowsJson(store.ops.values())).toEqual([])
      expect(opsOf(store, 'work', 'lost'), rowsJson(store.ops.values())).toEqual([])
      expect(pool.chain.clock.ledger).toBeLessThan(BOGUS_LEDGER)
      expect(cap.text).toContain('implausibly far from the clock')
      expect(await balanceMismatches(store, pool.chain, net)).toEqual([])
    } finally {
      await rig.close()
      await proxy.close()
    }
  }, 300_000)
})
