import { describe, it, expect } from 'vitest'
import { BLOCKS_KEPT, markBlock } from '../../src/chain/cycle-state.js'

describe('markBlock (the per-block done sets of the block cycle)', () => {
  // Regression (review): plantDone and workDone gained one entry per block for the life of the process.
  it('keeps the newest block and BLOCKS_KEPT before it, whatever the number of blocks', () => {
    const done = new Set<number>()
    for (let i = 1; i <= 100_000; i++) markBlock(done, i)
    expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: BLOCKS_KEPT + 1 }, (_, k) => 100_000 - BLOCKS_KEPT + k))
  })

  it('a block marked late (a retried phase) stays while it is recent; an older one is forgotten at once', () => {
    const done = new Set([10, 11])
    markBlock(done, 12)
    markBlock(done, 9)
    expect(done.has(9)).toBe(true)
    markBlock(done, 20)
    expect([...done]).toEqual([20])
  })
})
