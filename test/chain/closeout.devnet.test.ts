// Regression (money loss): one plant or work row left 'pending' or 'failed'
// froze its block's miner rewards forever (the ledger rewards a block only when
// none of its rows is open). Rows the scheduler used to leave open: a plant that
// still failed when the plant window closed (the farmer is out of XLM), and rows
// a crash left in blocks before the one the restarted process first sees. Once
// FarmIndex > N the close-out sweep resolves every one of them from its hash and
// the pail.
import { describe, it, expect } from 'vitest'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import type { ChainOpRecord } from '../../src/chain/store.js'
import { devnetRig, rowsJson, until, interceptSubmit } from './harness.js'

const row = (o: Partial<ChainOpRecord> & Pick<ChainOpRecord, 'farmer' | 'block' | 'op' | 'status'>): ChainOpRecord => ({
  txHash: null, feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: Date.now() - 3_600_000, ...o,
})
const FAKE_HASH = 'ee'.repeat(32)

describe('close-out of past blocks', () => {
  it('resolves a plant that failed through the plant window and rows a crash left behind', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'closeout' })
    const { store, master, cap } = rig
    const pool = rig.start()
    try {
      await ensureFarmers(pool.chain.accounts, 3)
      // f0 cannot pay for its plants during the first block the pool sees (the
      // opener of the next block is the first idle farmer: f1 or f2, not f0, who is last)
      const [f2, f1, f0] = [...store.farmers.keys()] as [string, string, string]
      let failBlock: number | undefined
      pool.chain.scheduler.once('block', (ev: { index: number }) => { failBlock = ev.index })
      interceptSubmit(pool, async (req, submit) => {
        if (req.op === 'plant' && req.source.publicKey === f0 && failBlock !== undefined && pool.blocks.at(-1)?.index === failBlock) {
          return { status: 'failed', reason: 'txInsufficientBalance', hash: null, feeStroops: 0n }
        }
        return submit(req)
      })
      // Left by a crashed process in block 0 (the devnet opens block 1 with the first plant):
      // a plant and a work sent but never confirmed, a plant that had failed.
      await store.recordOp(row({ farmer: f1, block: 0, op: 'plant', status: 'pending', txHash: FAKE_HASH }))
      await store.recordOp(row({ farmer: f1, block: 0, op: 'work', status: 'pending', txHash: FAKE_HASH, zeros: 3 }))
      await store.recordOp(row({ farmer: f2, block: 0, op: 'plant', status: 'failed', reason: 'txBadSeq' }))
      pool.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pool.chain.scheduler.start()
      await until(() => failBlock !== undefined && pool.harvested.some((h) => h.index === failBlock), 120_000).catch((e: unknown) => {
        console.log(failBlock, pool.blocks.map((b) => b.index), rowsJson(store.ops.values()), cap.text.split('\n').filter((l) => /warn|phase/.test(l)).slice(-30).join('\n'))
        throw e
      })
      const open = (o: ChainOpRecord): boolean => o.status === 'pending' || o.status === 'failed'
      // the sweep runs with the harvests: give it the next harvest round
      await until(async () => ![...(await store.opsOfBlock(0)), ...(await store.opsOfBlock(failBlock!))].some(open), 30_000)
        .catch(() => undefined)
      await pool.chain.scheduler.shutdown()

      const b = failBlock!
      const rows = [...(await store.opsOfBlock(0)), ...(await store.opsOfBlock(b))]
      expect(rows.filter(open).map((o) => `${o.block}/${o.op}/${o.status}/${o.reason}`)).toEqual([])
      const of = (pk: string, block: number, op: string) => rows.find((o) => o.farmer === pk && o.block === block && o.op === op)
      expect(of(f0, b, 'plant')).toMatchObject({ status: 'lost', reason: expect.stringContaining('txInsufficientBalance') })
      expect(of(f1, 0, 'plant')?.status).toBe('lost')
      expect(of(f1, 0, 'work')?.status).toBe('lost')
      expect(of(f2, 0, 'plant')).toMatchObject({ status: 'lost', reason: expect.stringContaining('txBadSeq') })
      // the others' pails of the block were harvested as usual
      for (const pk of [f1, f2]) expect(of(pk, b, 'harvest')?.status).toBe('done')
    } finally {
      await rig.close()
    }
  }, 200_000)
})
