// Review of the miner, issue 9: HashThreads forwarded every find, including
// those a thread posted before it received the next job. Under a job id sent
// again with other work (another extranonce1 after a reconnect, say) such a
// nonce is malformed or low for the pool, and counts toward its invalid-share ban.
import { afterEach, describe, expect, it } from 'vitest'
import { HashThreads, type FoundShare, type HashJob } from '../../src/miner/hash-threads.js'
import { waitFor } from './fake-pool.js'

const job = (over: Partial<HashJob> = {}): HashJob => ({
  jobId: 'a', index: 77, entropy: new Uint8Array(32).fill(1), farmerKey: new Uint8Array(32).fill(0x5a), difficulty: 1, extranonce1Hex: 'c0ffee', ...over,
})

let engine: HashThreads | undefined
afterEach(async () => {
  await engine?.stop()
  engine = undefined
})

describe('HashThreads finds of replaced work', () => {
  it.each([
    ['setJob (same job id, other work)', (e: HashThreads) => e.setJob(job({ extranonce1Hex: 'beef', difficulty: 2 ** 64 }))],
    ['idle()', (e: HashThreads) => e.idle()],
  ])('issue 9: a find posted before %s reached the thread is dropped', async (_name, replace) => {
    const before: FoundShare[] = []
    const after: FoundShare[] = []
    let replaced = false
    engine = await HashThreads.start({
      threads: 1,
      onShare: (s) => {
        if (replaced) return void after.push(s)
        before.push(s)
        replaced = true
        // The thread posts its finds of a chunk together (difficulty 1: every hash
        // is one, 16 per chunk); the rest of this chunk's arrive after this.
        replace(engine!)
      },
    })
    engine.setJob(job())
    await waitFor(() => replaced)
    // Long enough for the chunk's other finds, and any later chunk's of the old work, to arrive.
    await new Promise((r) => setTimeout(r, 300))
    expect(before).toHaveLength(1)
    expect(after).toEqual([])
  })
})
