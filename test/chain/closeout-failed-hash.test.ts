// Regression (review finding 2, close-out): a work row left 'failed' with a hash
// ("transaction outcome unknown") was judged from the pail read alone: a lagging
// node's answer showing the pail unworked booked the pail lost "no work landed"
// although the work had applied. Its hash decides, as for a pending row.
import { describe, it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import { closeWorksOf } from '../../src/chain/closeout.js'
import { CycleState, type PailReads, type SchedulerOptions } from '../../src/chain/cycle-state.js'
import { MemoryChainStore, type ChainOpRecord } from '../../src/chain/store.js'
import type { TxResult } from '../../src/chain/submitter.js'
import { LogCapture } from './harness.js'

const PK = 'GB5PM4N3JYB4Z45GCPBNIHE4JGINL4HPX4FATZWNQPURF36GR4WJUSO5'
const HASH = 'ab'.repeat(32)

function row(o: Partial<ChainOpRecord> & Pick<ChainOpRecord, 'op' | 'status'>): ChainOpRecord {
  return { farmer: PK, block: 7, txHash: null, feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: Date.now(), ...o }
}

describe('close-out of a work row left failed', () => {
  it('regression: a failed work with a hash that applied is done, whatever a stale pail read says', async () => {
    const store = new MemoryChainStore()
    await store.recordOp(row({ op: 'plant', status: 'done', txHash: 'cd'.repeat(32) }))
    await store.recordOp(row({ op: 'work', status: 'failed', txHash: HASH, zeros: 6, reason: 'transaction outcome unknown' }))
    const c = new CycleState({ store, log: new LogCapture().logger, ledgerMs: 200 } as unknown as SchedulerOptions, new EventEmitter())
    // The lagging node: the pail without its work.
    c.readPails = async (): Promise<PailReads> => new Map([[PK, { pail: { sequence: 100, gap: null, stake: 0n, zeros: null }, liveUntil: 20_000 }]])
    const asked: string[] = []
    c.checkHash = async (hash: string): Promise<TxResult | undefined> => {
      asked.push(hash)
      return hash === HASH ? { status: 'success', hash, ledger: 150, feeStroops: 100n, returnValue: undefined } as unknown as TxResult : undefined
    }
    expect(await closeWorksOf(c, 7)).toBe(false)
    expect(asked).toEqual([HASH])
    const work = (await store.opsOfBlock(7)).find((o) => o.op === 'work')!
    expect(work.status, work.reason ?? '').toBe('done')
    expect(work.zeros).toBe(6)
  })
})
