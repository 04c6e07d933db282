// Regression (money loss): the look-back that recovers pails whose rows were
// lost (written behind through a database outage, then the process ended)
// reached only 8 blocks before the first block a restarted process saw. After a
// longer downtime those pails stayed unharvested until their TTL: stake and
// reward never minted, the block's miners never credited. It now reaches every
// block whose pails can still be alive (LOOK_BACK_BLOCKS, the pail TTL's worth).
// The devnet runs in-process so the downtime can be closed ledger by ledger
// (bots open the blocks, as other farmers do on mainnet).
import { describe, it, expect } from 'vitest'
import { startDevnet } from '../../src/devnet/index.js'
import { resolveNetwork } from '../../src/chain/network.js'
import { ensureFarmers } from '../../src/chain/farmers.js'
import { LOOK_BACK_BLOCKS } from '../../src/chain/closeout.js'
import { LogCapture, balanceMismatches, farm, newMasterKey, newStore, opsOf, rowsJson, startPool, until, workedBlock, type PoolHandle } from './harness.js'

const FARMERS = 2
/** Blocks opened while no pool runs: more than the old look-back's 8. */
const DOWNTIME_BLOCKS = 12
const CLOSES_MAX = 20_000

describe('a past block whose rows were lost, behind a long downtime', () => {
  it('is found by the look-back of the restarted process and harvested once', async () => {
    expect(LOOK_BACK_BLOCKS).toBeGreaterThan(DOWNTIME_BLOCKS + 1)
    const dev = await startDevnet({ port: 0, ledgerMs: 200, bots: 3, seed: 'look-back' })
    const net = await resolveNetwork({ kaleNetwork: 'devnet', rpcUrl: dev.info.rpcUrl, timeoutMs: 5000 })
    const cap = new LogCapture()
    const store = newStore()
    const master = newMasterKey()
    const pools: PoolHandle[] = []
    const start = (holdHarvests: boolean): Promise<PoolHandle> => {
      const p = startPool(net, store, master, cap.logger)
      pools.push(p)
      return farm(p, store, master, holdHarvests)
    }
    try {
      await ensureFarmers(startPool(net, store, master, cap.logger).chain.accounts, FARMERS)
      const pa = await start(true)
      const n = await workedBlock(pa, store, FARMERS)
      await pa.chain.scheduler.shutdown()
      // The database never saw block N.
      const lost = [...store.ops.entries()].filter(([, o]) => o.block === n)
      for (const [k] of lost) store.ops.delete(k)

      // The downtime: the other farmers open DOWNTIME_BLOCKS more blocks.
      const farmIndex = (): number => dev.chain.state.instance.farmIndex
      for (let i = 0; farmIndex() < n + DOWNTIME_BLOCKS; i++) {
        if (i > CLOSES_MAX) throw new Error(`the bots opened no block past ${farmIndex()}`)
        dev.closeLedger()
      }

      const pb = await start(false)
      await until(() => opsOf(store, 'harvest', 'done').filter((o) => o.block === n).length === FARMERS, 120_000, () => rowsJson([...store.ops.values()].filter((o) => o.block === n)))
      await pb.chain.scheduler.shutdown()
      for (const pk of store.farmers.keys()) {
        const ops = (await store.opsOfBlock(n)).filter((o) => o.farmer === pk)
        expect(ops.map((o) => `${o.op}:${o.status}`).sort(), pk).toEqual(['harvest:done', 'plant:done', 'work:done'])
        expect(ops.find((o) => o.op === 'plant')!.amountStroops).toBe(lost.find(([, o]) => o.farmer === pk && o.op === 'plant')![1].amountStroops)
      }
      expect(cap.text).toContain('pails without a row recovered from the chain')
      expect(await balanceMismatches(store, pb.chain, net)).toEqual([])
    } finally {
      for (const p of pools) p.chain.scheduler.stop()
      await dev.close()
    }
  }, 400_000)
})
