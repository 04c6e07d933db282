// Regression tests for the stratum review: ban padding with stale job ids,
// extranonce1 reuse within a block, extranonce1 exhaustion by parked sessions,
// distribution weighted by claimed difficulty, parked duplicate memory across
// blocks, and d= applied by a refused authorize.
import { describe, it, expect } from 'vitest'
import { startServer, Raw, login, findNonce, blockEvent, farmerAddress, minerSession, PAYOUT, type Msg } from './helpers.js'
import type { SessionCarry } from '../../src/stratum/session.js'
import { creditedHashrate, creditedRecord, creditedStart } from '../../src/stratum/distribution.js'

type Server = Awaited<ReturnType<typeof startServer>>

/** Waits until the server has seen `n` connections at most (a closed client is detached server-side a moment later). */
async function connectedAtMost(s: Server, n: number): Promise<void> {
  const deadline = Date.now() + 2000
  while (s.server.sessionCount > n) {
    if (Date.now() > deadline) throw new Error(`still ${s.server.sessionCount} sessions`)
    await new Promise((r) => setTimeout(r, 1))
  }
}

/** Like `Raw.call`, but resolves undefined as soon as the connection is closed (a ban). */
async function callOrClosed(c: Raw, id: string, method: string, params: unknown[]): Promise<Msg | undefined> {
  c.send({ id, method, params })
  const answer = (ls: Msg[]): Msg | undefined => ls.find((l) => l.id === id && l.method === undefined)
  await c.until((ls) => c.closed || answer(ls) !== undefined)
  return answer(c.lines)
}

/** Subscribes a new connection and returns it with its extranonce1 hex (the answer's error, if any). */
async function subscribe(s: Server): Promise<{ c: Raw; e1: string | undefined; error: Msg['error'] }> {
  const c = await Raw.connect(s.port)
  const r = await c.call('s', 'mining.subscribe', ['cycle'])
  return { c, e1: (r.result as string[] | undefined)?.[1], error: r.error }
}

/** Submits of the same nonce under an extranonce1 reused in this block are 22 and never credited twice; a fresh nonce is. */
async function expectReuseRefused(s: Server, c: Raw, e1: string, nonce: string): Promise<void> {
  expect((await c.call('a', 'mining.authorize', [PAYOUT])).result).toBe(true)
  const n = await c.nextNotify()
  for (let i = 0; i < 3; i++) {
    expect((await c.call(`dup${i}`, 'mining.submit', [PAYOUT, n.params![0], nonce])).error).toEqual({ code: 22, message: 'Duplicate share' })
  }
  expect((await c.call('fresh', 'mining.submit', [PAYOUT, n.params![0], findNonce(n, e1, 1, 5000)])).result).toBe(true)
  // The earlier holder's nonces are not this miner's doing: neutral for its ban.
  expect(c.closed).toBe(false)
  expect(s.sink.shares).toHaveLength(2)
}

/** Miner A has one nonce credited, then leaves (its session parked): its extranonce1 and that nonce. */
async function creditedAndGone(s: Server): Promise<{ e1: string; nonce: string }> {
  const { c: a, e1, n, jobId } = await minerSession(s, farmerAddress())
  const nonce = findNonce(n, e1, 1)
  expect((await a.call(1, 'mining.submit', [PAYOUT, jobId, nonce])).result).toBe(true)
  a.close()
  await connectedAtMost(s, 0)
  return { e1, nonce }
}

/**
 * Subscribes and closes sessions (each parked) until one is handed `e1`, whose
 * earlier holder had `nonce` credited: that submit must be refused. Returns how
 * many subscribes came before it (300 at most).
 */
async function cycleUntilReused(s: Server, e1: string, nonce: string): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const { c, e1: got, error } = await subscribe(s)
    expect(error, `subscribe ${i + 1}, no session live`).toBeUndefined()
    const reused = got === e1
    if (reused) await expectReuseRefused(s, c, e1, nonce)
    c.close()
    await connectedAtMost(s, 0)
    if (reused) return i
  }
  throw new Error(`extranonce1 ${e1} was not handed out again in 300 subscribes`)
}

describe('stratum review fixes', () => {
  it('review 1: stale job ids cannot pad the invalid-share ratio (21 is neutral, not a judged share)', async () => {
    const s = await startServer({ banSharesMin: 10, banInvalidPercent: 50, banSeconds: 0 })
    try {
      const farmer = farmerAddress()
      const { c, e1, jobId: staleId } = await minerSession(s, farmer, 'd=65536')
      s.server.onBlock(blockEvent(10))
      s.server.onPlanted({ index: 10, farmers: [farmer] })
      const n2 = await c.nextNotify(1)
      let k = 0
      let low = 0
      // One free stale submit per low-difficulty share: 50 % "invalid" if the 21s counted.
      for (let i = 0; i < 30 && !c.closed; i++) {
        const pad = e1 + (0xfff0000 + i).toString(16).padStart(16 - e1.length, '0')
        const stale = await callOrClosed(c, `p${i}`, 'mining.submit', [PAYOUT, staleId, pad])
        if (stale === undefined) break // closed by the ban
        expect(stale.error!.code).toBe(21)
        const nonce = findNonce(n2, e1, 65536, k, true)
        k = parseInt(nonce.slice(e1.length), 16) + 1
        if ((await callOrClosed(c, `l${i}`, 'mining.submit', [PAYOUT, n2.params![0], nonce]))?.error?.code === 23) low++
      }
      await c.untilClosed()
      expect(low).toBeLessThanOrEqual(10) // banned at BAN_SHARES_MIN low-difficulty shares, the stale pads notwithstanding
      expect((await s.metrics.bansTotal.get()).values[0]!.value).toBe(1)
    } finally {
      await s.close()
    }
  })

  it('review 2: a nonce credited under an extranonce1 is not credited again after its reservation is evicted and the extranonce1 reused in the same block', async () => {
    const s = await startServer({ extranonce1Bytes: 1, sessionsMax: 8, banSharesMin: 2, banInvalidPercent: 40 })
    try {
      const { e1, nonce } = await creditedAndGone(s)
      // 8 more parked sessions evict A's reservation; the allocator comes round to its extranonce1 within 256.
      expect(await cycleUntilReused(s, e1, nonce)).toBeLessThan(300)
    } finally {
      await s.close()
    }
  })

  it('review 3: subscribe-and-close cycles cannot exhaust the extranonce1 space (the oldest parked reservation gives way, its nonces stay used)', async () => {
    const s = await startServer({ extranonce1Bytes: 1, sessionsMax: 256 })
    try {
      const { e1, nonce } = await creditedAndGone(s)
      // A and 255 others parked fill all 256 values; every later subscribe must still get one:
      // the 256th after A gets A's, the oldest reservation, evicted when none was free.
      expect(await cycleUntilReused(s, e1, nonce)).toBe(255)
    } finally {
      await s.close()
    }
  })

  it.each([
    ['d=2^40', async (c: Raw) => login(c, PAYOUT, `d=${2 ** 40}`)],
    ['a suggest_difficulty floor of 2^40', async (c: Raw) => {
      await c.call('s', 'mining.subscribe', ['t'])
      await c.call('sd', 'mining.suggest_difficulty', [2 ** 40])
      await c.call('a', 'mining.authorize', [PAYOUT])
    }],
  ])('review 4: an idle session claiming %s weighs no more than an honest one in the distribution', async (_, claim) => {
    const s = await startServer()
    try {
      const farmers = [farmerAddress(), farmerAddress()]
      s.server.onBlock(blockEvent(9))
      s.server.onPlanted({ index: 9, farmers })
      const honest: Raw[] = []
      for (let i = 0; i < 6; i++) {
        const c = await Raw.connect(s.port)
        await login(c, PAYOUT)
        honest.push(c)
      }
      const hostile = await Raw.connect(s.port)
      await claim(hostile)
      await new Promise((r) => setTimeout(r, 150)) // the login rebalance
      s.server.onBlock(blockEvent(10))
      s.server.onPlanted({ index: 10, farmers })
      const on = { [farmers[0]!]: 0, [farmers[1]!]: 0 }
      for (const c of honest) {
        await c.until((ls) => ls.some((l) => l.method === 'mining.notify' && l.params![1] === 10))
        on[c.notifications('mining.notify').at(-1)!.params![4] as string]!++
      }
      // Seven sessions without a share weigh the same: the honest six split 3/3 (the
      // claimed difficulty took a farmer to itself, all six on the other).
      expect(Object.values(on)).toEqual([3, 3])
      for (const c of [...honest, hostile]) c.close()
    } finally {
      await s.close()
    }
  })

  it('review 4: the distribution weight is the credited rate (measured), a prior before the first share', () => {
    const windowMs = 300_000
    const rate = (r: ReturnType<typeof creditedStart>, t: number) => creditedHashrate(r, t, windowMs, 10_000, 7)
    let r = creditedStart(0)
    expect(rate(r, 60_000)).toBe(7) // no share yet: the prior, whatever difficulty was claimed
    // 1000 H/s at difficulty 10 000: one share per 10 s.
    for (let t = 10_000; t <= 1_200_000; t += 10_000) r = creditedRecord(r, 10_000, t, windowMs)
    expect(rate(r, 1_200_000)).toBeGreaterThan(900)
    expect(rate(r, 1_200_000)).toBeLessThan(1100)
    expect(rate(r, 1_200_000 + 3 * windowMs)).toBeLessThan(60) // stopped mining: it fades
    // One share just after login is not a huge rate: the age counts as at least 10 s.
    expect(rate(creditedRecord(creditedStart(0), 10_000, 100, windowMs), 100)).toBeLessThan(1100)
  })

  it('review 5: a new block drops parked sessions\' held jobs with their duplicate sets (the nonce count stays true)', async () => {
    const s = await startServer()
    try {
      const farmer = farmerAddress()
      const { c, e1, sessionId, n, jobId } = await minerSession(s, farmer, 'd=1')
      for (let i = 0; i < 10; i++) expect((await c.call(i, 'mining.submit', [PAYOUT, jobId, findNonce(n, e1, 1, i * 100)])).result).toBe(true)
      c.close()
      await connectedAtMost(s, 0)
      const alloc = (s.server.stratifier as unknown as { extranonce: { carries(): Iterable<SessionCarry> } }).extranonce
      const held = (): number => {
        let nonces = 0
        for (const carry of alloc.carries()) for (const set of carry.seen.values()) nonces += set.size
        return nonces
      }
      expect(held()).toBe(10)
      s.server.onBlock(blockEvent(10))
      expect(held()).toBe(0)
      expect([...alloc.carries()].every((carry) => carry.jobs.size === 0 && carry.seen.size === 0)).toBe(true)
      // Still resumable: same extranonce1, the old job id a neutral 21, new work credited.
      s.server.onPlanted({ index: 10, farmers: [farmer] })
      const b = await Raw.connect(s.port)
      expect(((await b.call('s', 'mining.subscribe', ['t', sessionId])).result as string[])[1]).toBe(e1)
      await b.call('a', 'mining.authorize', [PAYOUT])
      const n2 = await b.nextNotify()
      expect((await b.call('old', 'mining.submit', [PAYOUT, jobId, findNonce(n, e1, 1)])).error!.code).toBe(21)
      expect((await b.call('new', 'mining.submit', [PAYOUT, n2.params![0], findNonce(n2, e1, 1)])).result).toBe(true)
      b.close()
    } finally {
      await s.close()
    }
  })

  it('review 6: an authorize refused for too many workers does not apply its d=', async () => {
    const s = await startServer()
    try {
      const farmer = farmerAddress()
      const { c } = await minerSession(s, farmer)
      for (let i = 1; i < 64; i++) expect((await c.call(`w${i}`, 'mining.authorize', [`${PAYOUT}.w${i}`])).result).toBe(true)
      expect((await c.call('w64', 'mining.authorize', [`${PAYOUT}.w64`, 'd=4096'])).error).toEqual({ code: 20, message: 'Other: too many workers' })
      // The next job comes at the difficulty in force: still 1, vardiff still on.
      s.server.onBlock(blockEvent(10))
      s.server.onPlanted({ index: 10, farmers: [farmer] })
      await c.nextNotify(1)
      expect(c.notifications('mining.set_difficulty').map((m) => m.params![0])).toEqual([1])
      c.close()
    } finally {
      await s.close()
    }
  })
})
