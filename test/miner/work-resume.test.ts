// Review issue 1: every notify restarted each hash thread's scan at its range
// start, so work the pool sent again (a resumed session, a rebalance back to a
// farmer, a retarget under a new job id) re-found the nonces already submitted:
// duplicates (22). Threads now continue such work where they stopped.
import { afterEach, describe, expect, it } from 'vitest'
import { once } from 'node:events'
import { HashThreads, type FoundShare, type HashJob } from '../../src/miner/hash-threads.js'
import { ScanMemory, SCAN_WORKS_MAX } from '../../src/miner/scan-memory.js'
import { Miner } from '../../src/miner/miner.js'
import { startServer, blockEvent, farmerAddress, PAYOUT } from '../stratum/helpers.js'
import { waitFor } from './fake-pool.js'

const entropy = Uint8Array.from({ length: 32 }, (_, i) => i)
const farmerKey = new Uint8Array(32).fill(0x5a)
const job = (over: Partial<HashJob> = {}): HashJob => ({ jobId: 'a', index: 1234, entropy, farmerKey, difficulty: 64, extranonce1Hex: 'c0ffee', ...over })

describe('ScanMemory', () => {
  it('resumes a work where it was left, forgets other blocks on a clean job, and keeps at most SCAN_WORKS_MAX works', () => {
    const m = new ScanMemory()
    expect(m.resume('w1', 5, false, 100n)).toBe(100n)
    m.save('w1', 5, 250n)
    m.save('w2', 5, 900n)
    expect(m.resume('w1', 5, false, 100n)).toBe(250n)
    // A resumed session gets its work again with cleanJobs = true: same block, kept.
    expect(m.resume('w1', 5, true, 100n)).toBe(250n)
    m.save('old', 4, 7n)
    expect(m.resume('w3', 6, true, 0n)).toBe(0n)
    expect(m.size).toBe(0)
    for (let i = 0; i <= SCAN_WORKS_MAX; i++) m.save(`w${i}`, 6, BigInt(i + 1))
    expect(m.size).toBe(SCAN_WORKS_MAX)
    expect(m.resume('w0', 6, false, 0n)).toBe(0n) // the least recently left was forgotten
    expect(m.resume(`w${SCAN_WORKS_MAX}`, 6, false, 0n)).toBe(BigInt(SCAN_WORKS_MAX + 1))
  })
})

describe('HashThreads on work sent again', () => {
  let engine: HashThreads | undefined
  afterEach(async () => {
    await engine?.stop()
    engine = undefined
  })

  it('the same work under a new job id, after other work, finds no nonce twice; a new block forgets it', async () => {
    const shares: FoundShare[] = []
    engine = await HashThreads.start({ threads: 2, onShare: (s) => shares.push(s) })
    const of = (id: string) => shares.filter((s) => s.jobId === id).map((s) => s.nonceHex)
    engine.setJob(job({ jobId: 'a', cleanJobs: true }))
    await waitFor(() => of('a').length >= 40)
    engine.setJob(job({ jobId: 'b', farmerKey: new Uint8Array(32).fill(1) }))
    await waitFor(() => of('b').length >= 10)
    // A rebalance back to the farmer, or a retarget: same work, another id.
    engine.setJob(job({ jobId: 'a2', difficulty: 32 }))
    await waitFor(() => of('a2').length >= 40)
    const a = new Set(of('a'))
    expect(of('a2').filter((n) => a.has(n))).toEqual([])
    // A new block voids the old one's work: were it sent again, it starts over.
    engine.setJob(job({ jobId: 'c', index: 1235, cleanJobs: true }))
    await waitFor(() => of('c').length >= 10)
    engine.setJob(job({ jobId: 'a3' }))
    await waitFor(() => of('a3').length >= 40)
    expect(of('a3').some((n) => a.has(n))).toBe(true)
  })
})

describe('Miner on a resumed session', () => {
  it('submits no duplicate (22) after the pool drops it and it resumes its session and work, again and again', async () => {
    const s = await startServer()
    const miner = new Miner({ url: `stratum+tcp://127.0.0.1:${s.port}`, user: `${PAYOUT}.resume`, password: 'd=65536', threads: 2, backoffMsMin: 10, backoffMsMax: 50 })
    const judged = () => miner.stats.accepted + miner.stats.rejected
    try {
      s.server.onBlock(blockEvent(3))
      s.server.onPlanted({ index: 3, farmers: [farmerAddress()] })
      await miner.start()
      const e1 = miner.client.extranonce1Hex
      for (let drop = 0; drop < 3; drop++) {
        const before = judged()
        await waitFor(() => judged() >= before + 5, 20_000)
        const back = once(miner.client, 'connected')
        for (const sess of s.server.stratifier.sessions) sess.socket.destroy()
        await back
      }
      const before = judged()
      await waitFor(() => judged() >= before + 5, 20_000)
      // Resumed each time: the pool sent the same work back.
      expect(miner.client.extranonce1Hex).toBe(e1)
      expect(miner.stats.rejects).toEqual({})
      expect(miner.stats.accepted).toBeGreaterThanOrEqual(20)
    } finally {
      await miner.stop()
      await s.close()
    }
  })
})
