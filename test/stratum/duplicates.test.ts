// Duplicate shares are per (session, work), not per job id: every job id that
// carries the same (block, farmer) work shares one memory of judged nonces.
import { describe, it, expect } from 'vitest'
import { startServer, Raw, findNonce, blockEvent, farmerAddress, minerSession, PAYOUT, StubVerifier } from './helpers.js'

const farmer = farmerAddress()

const session = (s: Awaited<ReturnType<typeof startServer>>, password = '') => minerSession(s, farmer, password)

describe('duplicate shares across job ids of one work', () => {
  it('issue 1: a nonce credited under one job id is a duplicate under the re-issued job id (suggest_difficulty)', async () => {
    const s = await startServer()
    try {
      const { c, e1, n, jobId } = await session(s)
      // Meets difficulty 16, so it would also pass the re-issued job's target.
      const nonce = findNonce(n, e1, 16)
      expect((await c.call(1, 'mining.submit', [PAYOUT, jobId, nonce])).result).toBe(true)
      expect((await c.call(2, 'mining.suggest_difficulty', [16])).result).toBe(true)
      const n2 = await c.nextNotify(1)
      expect(n2.params![0]).not.toBe(jobId)
      expect(n2.params![4]).toBe(farmer)
      expect((await c.call(3, 'mining.submit', [PAYOUT, n2.params![0], nonce])).error).toEqual({ code: 22, message: 'Duplicate share' })
      expect(s.sink.shares).toHaveLength(1)
      c.close()
    } finally {
      await s.close()
    }
  })

  it('a re-issued duplicate (same nonce, another job id of the work) is neutral for the ban; the same (job, nonce) again is invalid', async () => {
    // A client that restarts its extranonce2 on every notify re-finds its earlier
    // shares under the re-issued job id: 22, not credited, but not held against it.
    const s = await startServer({ banSharesMin: 4, banInvalidPercent: 50 })
    try {
      const { c, e1, n, jobId } = await session(s)
      const nonce = findNonce(n, e1, 16)
      expect((await c.call(1, 'mining.submit', [PAYOUT, jobId, nonce])).result).toBe(true)
      expect((await c.call(2, 'mining.suggest_difficulty', [16])).result).toBe(true)
      const reissued = (await c.nextNotify(1)).params![0] as string
      for (let i = 0; i < 10; i++) {
        expect((await c.call(10 + i, 'mining.submit', [PAYOUT, reissued, nonce])).error).toEqual({ code: 22, message: 'Duplicate share' })
      }
      expect(c.closed).toBe(false)
      expect(s.sink.shares).toHaveLength(1)
      // The same (job, nonce) as the credited share: invalid, and 4 of 5 judged bans.
      for (let i = 0; i < 4; i++) c.send({ id: 30 + i, method: 'mining.submit', params: [PAYOUT, jobId, nonce] })
      await c.untilClosed()
      expect(c.lines.find((l) => l.id === 30)?.error).toEqual({ code: 22, message: 'Duplicate share' })
      expect(s.sink.shares).toHaveLength(1)
    } finally {
      await s.close()
    }
  })

  it('issue 1: the duplicate memory of a work survives a resume and a new job id', async () => {
    const s = await startServer()
    try {
      const { c, e1, sessionId, n, jobId } = await session(s)
      const nonce = findNonce(n, e1, 16)
      expect((await c.call(1, 'mining.submit', [PAYOUT, jobId, nonce])).result).toBe(true)
      c.close()
      await new Promise((r) => setTimeout(r, 100))
      const b = await Raw.connect(s.port)
      expect(((await b.call(1, 'mining.subscribe', ['ua', sessionId])).result as string[])[1]).toBe(e1)
      await b.call(2, 'mining.suggest_difficulty', [16])
      await b.call(3, 'mining.authorize', [PAYOUT])
      const n2 = await b.nextNotify()
      expect(n2.params![0]).not.toBe(jobId)
      expect((await b.call(4, 'mining.submit', [PAYOUT, n2.params![0], nonce])).error!.code).toBe(22)
      expect(s.sink.shares).toHaveLength(1)
      b.close()
    } finally {
      await s.close()
    }
  })

  it('issue 1: past the per-block nonce bound shares get "share limit" (no job re-sent, no replay credited) until the next block', async () => {
    const s = await startServer({ sessionNoncesPerBlockMax: 4, banSharesMin: 2, banInvalidPercent: 40 })
    try {
      const { c, e1, n, jobId } = await session(s, 'd=1')
      const nonces = [0, 1, 2, 3, 4].map((k) => findNonce(n, e1, 1, k * 100))
      for (let i = 0; i < 4; i++) expect((await c.call(10 + i, 'mining.submit', [PAYOUT, jobId, nonces[i]])).result).toBe(true)
      const notifies = c.notifications('mining.notify').length
      const limit = await c.call(20, 'mining.submit', [PAYOUT, jobId, nonces[4]])
      expect(limit.error).toEqual({ code: 20, message: 'Other: share limit for this block reached' })
      // Still the same job: replays of accepted nonces stay duplicates.
      expect((await c.call(21, 'mining.submit', [PAYOUT, jobId, nonces[0]])).error!.code).toBe(22)
      for (let i = 0; i < 5; i++) expect((await c.call(30 + i, 'mining.submit', [PAYOUT, jobId, nonces[4]])).error!.code).toBe(20)
      expect(c.notifications('mining.notify').length).toBe(notifies)
      expect(s.sink.shares).toHaveLength(4)
      // The limit answers are neither credited nor invalid: 1 duplicate of 5 judged (20 %) does not ban.
      expect(c.closed).toBe(false)
      s.server.onBlock(blockEvent(10))
      s.server.onPlanted({ index: 10, farmers: [farmer] })
      const n2 = await c.nextNotify(notifies)
      expect((await c.call(40, 'mining.submit', [PAYOUT, n2.params![0], findNonce(n2, e1, 1)])).result).toBe(true)
      expect(s.sink.shares).toHaveLength(5)
      c.close()
    } finally {
      await s.close()
    }
  })

  it('all sessions together remember at most stratumNoncesRememberedMax nonces a block: past half only sessions below an even share, at the bound nobody (20 "share limit"), a parked session still counting, until the next block', async () => {
    const s = await startServer({ stratumNoncesRememberedMax: 5, banSharesMin: 100 })
    try {
      const a = await session(s, 'd=1')
      const b = await session(s, 'd=1')
      const na = [0, 1, 2, 3].map((k) => findNonce(a.n, a.e1, 1, k * 100))
      const nb = [0, 1, 2].map((k) => findNonce(b.n, b.e1, 1, k * 100))
      const limit = { code: 20, message: 'Other: share limit for this block reached' }
      for (let i = 0; i < 3; i++) expect((await a.c.call(10 + i, 'mining.submit', [PAYOUT, a.jobId, na[i]])).result).toBe(true)
      // Past half of the bound (3 ≥ 2.5) A holds more than an even share of that half: A stops, B goes on.
      expect((await a.c.call(20, 'mining.submit', [PAYOUT, a.jobId, na[3]])).error).toEqual(limit)
      for (let i = 0; i < 2; i++) expect((await b.c.call(10 + i, 'mining.submit', [PAYOUT, b.jobId, nb[i]])).result).toBe(true)
      // At the bound nobody goes on.
      expect((await b.c.call(20, 'mining.submit', [PAYOUT, b.jobId, nb[2]])).error).toEqual(limit)
      // A leaves: parked for resume, its 3 nonces are still held and still count.
      a.c.close()
      await new Promise((r) => setTimeout(r, 100))
      expect((await b.c.call(21, 'mining.submit', [PAYOUT, b.jobId, nb[2]])).error).toEqual(limit)
      expect(s.sink.shares).toHaveLength(5)
      // Operators see it: the gauge follows on the server's coarse tick.
      const remembered = async (): Promise<number> => (await s.metrics.noncesRemembered.get()).values[0]!.value
      await new Promise((r) => setTimeout(r, 120))
      expect(await remembered()).toBe(5)
      const notifies = b.c.notifications('mining.notify').length
      s.server.onBlock(blockEvent(10))
      s.server.onPlanted({ index: 10, farmers: [farmer] })
      const n2 = await b.c.nextNotify(notifies)
      expect(await remembered()).toBe(0)
      // A fresh count; alone, B's even share of the first half is all of it: 3 nonces, then it stops.
      for (let k = 0; k < 3; k++) expect((await b.c.call(30 + k, 'mining.submit', [PAYOUT, n2.params![0], findNonce(n2, b.e1, 1, k * 100)])).result).toBe(true)
      expect((await b.c.call(40, 'mining.submit', [PAYOUT, n2.params![0], findNonce(n2, b.e1, 1, 300)])).error).toEqual(limit)
      expect(s.sink.shares).toHaveLength(8)
      b.c.close()
    } finally {
      await s.close()
    }
  })

  it('issue 3: a share answered busy (share sink full) is not remembered: its retry is accepted, not a duplicate', async () => {
    for (const kind of ['piscina', 'stub'] as const) {
      const s = await startServer({}, kind === 'stub' ? { verifier: new StubVerifier() } : {})
      try {
        const { c, e1, n, jobId } = await session(s)
        const nonce = findNonce(n, e1, 1)
        s.sink.full = true
        expect((await c.call(1, 'mining.submit', [PAYOUT, jobId, nonce])).error!.message).toMatch(/busy/)
        s.sink.full = false
        expect((await c.call(2, 'mining.submit', [PAYOUT, jobId, nonce])).result).toBe(true)
        expect((await c.call(3, 'mining.submit', [PAYOUT, jobId, nonce])).error!.code).toBe(22)
        expect(s.sink.shares).toHaveLength(1)
        c.close()
      } finally {
        await s.close()
      }
    }
  })
})
