// Regression (review finding 3): the pool's own opening plant killed its
// in-flight works. Open attempts started at closeTime + 5 ≥ ts + 300 whatever the
// work phase was doing, so a work still under way (a retry, a slow lane) landed
// after the opener's plant and failed #9/#13: that pail's reward lost. Here one
// farmer's work is held until the ledger time is past ts + 300; the opener must
// wait for it (bounded), and the work must land in its block.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { devnetRig, interceptSubmit, rowsJson, until } from './harness.js'

const FARMERS = 2
/** ledger seconds past the earliest rollover the held work is sent at: after the old opener's plant landed */
const HELD_PAST_ROLLOVER_SECONDS = 10

describe('opening the next block while our works are under way', () => {
  it('regression: the opener waits for the works of the block; a late work still lands', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'opener-waits-works' })
    const { store, master } = rig
    const pool = rig.start()
    try {
      await ensureFarmers(pool.chain.accounts, FARMERS)
      const [held] = [...store.farmers.keys()] as [string]
      let heldBlock: number | undefined
      interceptSubmit(pool, async (req, submit) => {
        // The second block seen is one the pool opened itself: its full 300 s are ahead.
        const cur = pool.blocks.length >= 2 ? pool.blocks.at(-1)! : undefined
        if (req.op === 'work' && cur && heldBlock === undefined && req.source.publicKey === held) {
          heldBlock = cur.index
          await until(() => pool.chain.clock.closeTime >= cur.timestamp + 300 + HELD_PAST_ROLLOVER_SECONDS, 60_000)
        }
        return submit(req)
      })
      pool.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pool.chain.scheduler.start()
      await until(() => heldBlock !== undefined && pool.blocks.some((b) => b.index === heldBlock! + 1), 150_000, () => rowsJson(store.ops.values()))
      await pool.chain.scheduler.shutdown()
      const rows = await store.opsOfBlock(heldBlock!)
      const work = rows.find((o) => o.farmer === held && o.op === 'work')
      expect(work?.status, rowsJson(rows)).toBe('done')
      // the block lasted past its earliest rollover: the opener waited for the held work
      const opened = pool.blocks.find((b) => b.index === heldBlock! + 1)!
      const ts = pool.blocks.find((b) => b.index === heldBlock!)!.timestamp
      expect(opened.timestamp).toBeGreaterThan(ts + 300 + HELD_PAST_ROLLOVER_SECONDS)
    } finally {
      await rig.close()
    }
  }, 300_000)
})
