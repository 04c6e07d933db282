// With 10 % of RPC requests failing (503s, hangs, TRY_AGAIN_LATER, answers
// dropped after PENDING) and competing bot farmers, the cycle still harvests
// ≥ 95 % of the pails, never plants or harvests a pail twice, and its records
// agree with the devnet's balances.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { balanceMismatches, devnet, LogCapture, newMasterKey, newStore, opsOf, startPool, until } from './harness.js'

const FARMERS = 10
const BLOCKS = 3

describe('block cycle under faults and competition', () => {
  it('harvests ≥ 95 % of pails with faultRate 0.1 and bots, nothing twice', async () => {
    const { dev, net } = await devnet({ ledgerMs: 200, faultRate: 0.1, bots: 5, seed: 'faults' })
    const cap = new LogCapture()
    const store = newStore()
    const master = newMasterKey()
    try {
      const pool = startPool(net, store, master, cap.logger, { timeoutMs: 800 })
      await ensureFarmers(pool.chain.accounts, FARMERS)
      pool.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pool.chain.scheduler.start()
      // BLOCKS blocks planted by the pool, each over and given time to harvest
      await until(() => {
        const first = pool.blocks[0]?.index
        return first !== undefined && pool.harvested.filter((h) => h.index >= first && h.index < first + BLOCKS).length >= BLOCKS
      }, 240_000).catch(() => undefined)
      await pool.chain.scheduler.shutdown()

      const first = pool.blocks[0]!.index
      const planted = opsOf(store, 'plant', 'done').filter((o) => o.block >= first && o.block < first + BLOCKS)
      const harvested = opsOf(store, 'harvest', 'done').filter((o) => o.block >= first && o.block < first + BLOCKS)
      const summary = new Map<string, number>()
      for (const o of store.ops.values()) if (o.block >= first && o.block < first + BLOCKS) summary.set(`${o.op}:${o.status}:${o.reason ?? ''}`, (summary.get(`${o.op}:${o.status}:${o.reason ?? ''}`) ?? 0) + 1)
      const diag = JSON.stringify([...summary])
      expect(planted.length, diag).toBeGreaterThanOrEqual(FARMERS * BLOCKS * 0.95)
      expect(harvested.length / planted.length, diag).toBeGreaterThanOrEqual(0.95)
      // every lost pail says why
      for (const o of [...store.ops.values()].filter((o) => o.status === 'lost')) expect(o.reason).toBeTruthy()
      // a successful transaction never exceeds what was recorded once per (farmer, block)
      for (const pk of store.farmers.keys()) {
        for (const op of ['plant', 'harvest'] as const) {
          const recorded = opsOf(store, op, 'done').filter((o) => o.farmer === pk).length
          expect(pool.successes.get(`${op}/${pk}`) ?? 0, `${op} ${pk}`).toBeLessThanOrEqual(recorded)
        }
      }
      expect(await balanceMismatches(store, pool.chain, net)).toEqual([])
    } finally {
      await dev.close()
    }
  }, 300_000)
})
