// Pure parts: framing, parsing, vardiff, work distribution, extranonce allocation.
import { describe, it, expect } from 'vitest'
import { LineFramer } from '../../src/stratum/framing.js'
import { parseLine, encodeOutcome, encodeTrue, SHARE_OUTCOMES, type RequestId } from '../../src/stratum/protocol.js'
import { vardiffStart, vardiffRecord, vardiffRetarget, vardiffDue, type VardiffParams } from '../../src/stratum/vardiff.js'
import { distribute, eligibleFarmers, expectedZeros } from '../../src/stratum/distribution.js'
import { ExtranonceAllocator, RESUME_MS } from '../../src/stratum/extranonce.js'
import { parsePassword, parseUsername } from '../../src/stratum/session.js'
import { JobBook } from '../../src/stratum/jobs.js'
import { farmerKeyOf } from '../../src/kale/index.js'
import { PAYOUT, startServer, Raw, login, blockEvent, farmerAddress } from './helpers.js'

describe('LineFramer', () => {
  it('cuts lines across chunks, strips \\r, skips empty lines', () => {
    const f = new LineFramer(100)
    f.push(Buffer.from('ab'))
    expect(f.next()).toBeUndefined()
    f.push(Buffer.from('c\r\n\n\r\nde\nf'))
    expect([f.next(), f.next(), f.next()]).toEqual(['abc', 'de', undefined])
    expect(f.bufferedBytes).toBe(1)
  })
  it('reports oversize before the newline arrives and for complete long lines', () => {
    const f = new LineFramer(4)
    f.push(Buffer.from('12345'))
    expect(f.next()).toBe('oversize')
    const g = new LineFramer(4)
    g.push(Buffer.from('1234\n12345\n'))
    expect([g.next(), g.next()]).toEqual(['1234', 'oversize'])
  })
  it('a line of exactly the bound whose \r and \n arrive apart is a line, not oversize', () => {
    const f = new LineFramer(4)
    f.push(Buffer.from('1234\r'))
    expect(f.next()).toBeUndefined()
    f.push(Buffer.from('\n'))
    expect(f.next()).toBe('1234')
    const g = new LineFramer(4)
    g.push(Buffer.from('12345\r'))
    expect(g.next()).toBe('oversize')
  })
  it('releases the receive buffer once every line is consumed', () => {
    const f = new LineFramer(10)
    f.push(Buffer.from('a\n'))
    f.next()
    f.next()
    expect(f.bufferedBytes).toBe(0)
  })
})

describe('parseLine', () => {
  it('keeps ids verbatim and defaults params', () => {
    expect(parseLine('{"id":"x","method":"m"}')).toEqual({ ok: true, request: { id: 'x', method: 'm', params: [] } })
    expect(parseLine('{"id":1.5,"method":"m","params":[1]}')).toMatchObject({ ok: true, request: { id: 1.5 } })
  })
  it('issue 9: numeric ids keep their text when re-serialising would change it', () => {
    const text = (line: string) => encodeTrue((parseLine(line) as { request: { id: RequestId } }).request.id).match(/"id":(.*),"result"/)![1]
    expect(text('{"id":12345678901234567890,"method":"m"}')).toBe('12345678901234567890')
    expect(text('{"id":1.50,"method":"m"}')).toBe('1.50')
    expect(text('{"id": 1e3 ,"method":"m"}')).toBe('1e3')
    expect(text('{"id":-0,"method":"m"}')).toBe('-0')
    expect(text('{"id":42,"method":"m"}')).toBe('42')
    expect(text(' { "method" : "m", "params":[{"id":2.50}], "id" : 2.5 }')).toBe('2.5')
    expect(text('{"method":"m \\"id\\": 7.0","params":["id"],"id":7.00}')).toBe('7.00')
    expect(text('{"\\u0069d":3.0,"method":"m"}')).toBe('3.0')
    expect(text('{"id":1.0,"method":"m","id":2}')).toBe('2')
    expect(parseLine('{"id":42,"method":"m"}')).toMatchObject({ request: { id: 42 } })
  })
  it('classifies errors', () => {
    expect(parseLine('{')).toMatchObject({ ok: false, code: -32700, fatal: true })
    expect(parseLine('"s"')).toMatchObject({ ok: false, code: -32600, fatal: false })
    expect(parseLine('{"id":{},"method":"m"}')).toMatchObject({ ok: false, code: -32600 })
    expect(parseLine('{"id":1,"method":2}')).toMatchObject({ ok: false, code: -32600, id: 1 })
    expect(parseLine('{"id":1,"method":"m","params":{}}')).toMatchObject({ ok: false, code: -32602, id: 1 })
  })
  it('maps every share outcome to its code once', () => {
    expect(Object.values(SHARE_OUTCOMES).map((o) => o.code).sort()).toEqual([0, 20, 20, 20, 20, 21, 21, 22, 22, 23, 24, 25])
    expect(encodeOutcome(3, 'duplicate')).toBe('{"jsonrpc":"2.0","id":3,"error":{"code":22,"message":"Duplicate share"}}\n')
    expect(encodeOutcome(4, 'duplicateReissued')).toBe('{"jsonrpc":"2.0","id":4,"error":{"code":22,"message":"Duplicate share"}}\n')
    expect(encodeOutcome('a', 'accepted')).toBe('{"jsonrpc":"2.0","id":"a","result":true}\n')
  })
})

describe('username and password', () => {
  it('parses address.worker and d=', () => {
    expect(parseUsername(PAYOUT)).toEqual({ payoutAddress: PAYOUT, worker: 'default' })
    expect(parseUsername(`${PAYOUT}.a_b-1`)).toEqual({ payoutAddress: PAYOUT, worker: 'a_b-1' })
    expect(parseUsername(`${PAYOUT}.`)).toBeUndefined()
    expect(parseUsername('GABC.x')).toBeUndefined()
    expect(parsePassword('x, d=512')).toEqual({ difficulty: 512 })
    expect(parsePassword('d=0')).toHaveProperty('error')
    expect(parsePassword('d=0.5')).toEqual({ difficulty: 0.5 })
    expect(parsePassword('d=-1')).toHaveProperty('error')
    expect(parsePassword('d=')).toHaveProperty('error')
    expect(parsePassword(undefined)).toEqual({})
  })
})

const P: VardiffParams = { targetSeconds: 10, retargetSeconds: 60, retargetSharesMax: 30, difficultyMin: 1, difficultyMax: 2 ** 40, hysteresisRatio: 1.5 }

/** Simulates a miner of `hashrate` (deterministic share times) for `seconds`; returns the final difficulty. */
function simulate(hashrate: number, seconds: number, start: number): number {
  let d = start
  let s = vardiffStart(0)
  let nextShareMs = (d / hashrate) * 1000
  // Event-driven and bounded: each step is a share or a timed retarget.
  for (let step = 0; step < 100_000; step++) {
    const timedMs = s.windowStartMs + P.retargetSeconds * 1000
    const t = Math.min(nextShareMs, timedMs)
    if (t > seconds * 1000) break
    if (nextShareMs <= timedMs) {
      s = vardiffRecord(s, d)
      nextShareMs += (d / hashrate) * 1000
    }
    if (vardiffDue(s, t, P)) {
      const r = vardiffRetarget(s, d, 0, t, P)
      s = r.state
      if (r.difficulty !== undefined) {
        d = r.difficulty
        nextShareMs = t + (d / hashrate) * 1000
      }
    }
  }
  return d
}

describe('vardiff', () => {
  it('converges to hashrate × target seconds from far below and far above', () => {
    for (const h of [1e3, 3.5e6, 1e9]) {
      for (const start of [1, 2 ** 30]) {
        const d = simulate(h, 1200, start)
        expect(d / (h * 10)).toBeGreaterThan(0.5)
        expect(d / (h * 10)).toBeLessThan(2)
      }
    }
  })
  it('holds still inside the hysteresis band, drops without shares, respects floor and clamps', () => {
    let s = vardiffStart(0)
    for (let i = 0; i < 6; i++) s = vardiffRecord(s, 1000)
    expect(vardiffRetarget(s, 1000, 0, 60_000, P).difficulty).toBeUndefined()
    expect(vardiffRetarget(vardiffStart(0), 1000, 0, 60_000, P).difficulty).toBe(250)
    expect(vardiffRetarget(vardiffStart(0), 1000, 800, 60_000, P).difficulty).toBe(800)
    // issue 2: a change that rounds back to the current difficulty is none
    expect(vardiffRetarget(vardiffStart(0), 4, 4.4, 60_000, P).difficulty).toBeUndefined()
    let big = vardiffStart(0)
    for (let i = 0; i < 30; i++) big = vardiffRecord(big, 2 ** 40)
    expect(vardiffRetarget(big, 2 ** 40, 0, 1000, P).difficulty).toBeUndefined()
    expect(vardiffDue(big, 1000, P)).toBe(true)
  })
})

describe('work distribution', () => {
  const farmers = ['A', 'B', 'C', 'D'].map((f) => ({ farmer: f, bestZeros: 0, worked: false }))
  it('balances simulated hashrates across farmers within 25 %', () => {
    const sessions = Array.from({ length: 200 }, (_, i) => ({ id: i, hashrate: 1e6 * (1 + (i % 7)), farmer: undefined }))
    const plan = distribute({ farmers, sessions, zerosTarget: 9, slackRatio: 1.25 })
    const load = new Map<string, number>()
    for (const [i, s] of sessions.entries()) load.set(plan[i]!, (load.get(plan[i]!) ?? 0) + s.hashrate)
    const v = [...load.values()]
    expect(v.length).toBe(4)
    expect(Math.max(...v) / Math.min(...v)).toBeLessThan(1.25)
  })
  it('moves sessions off farmers that reached max_zeros or were worked, and keeps the others in place', () => {
    const sessions = Array.from({ length: 40 }, (_, i) => ({ id: i, hashrate: 1e6, farmer: ['A', 'B', 'C', 'D'][i % 4] }))
    const f2 = farmers.map((f) => (f.farmer === 'A' ? { ...f, bestZeros: 9 } : f.farmer === 'B' ? { ...f, worked: true } : f))
    const plan = distribute({ farmers: f2, sessions, zerosTarget: 9, slackRatio: 1.25 })
    expect(sessions.every((s, i) => s.farmer !== 'C' || plan[i] === 'C')).toBe(true)
    expect(plan.every((f) => f === 'C' || f === 'D')).toBe(true)
    const moved = sessions.filter((s, i) => plan[i] !== s.farmer).length
    expect(moved).toBe(20)
  })
  it('when every farmer reached the target, spreads over all unworked ones; with all worked, nobody gets work', () => {
    const done = farmers.map((f) => ({ ...f, bestZeros: 10 }))
    expect(eligibleFarmers(done, 9)).toEqual(['A', 'B', 'C', 'D'])
    expect(distribute({ farmers: farmers.map((f) => ({ ...f, worked: true })), sessions: [{ id: 1, hashrate: 1, farmer: undefined }], zerosTarget: 9, slackRatio: 1.25 })).toEqual([undefined])
  })
  it('a pool of 100 MH/s over 4 farmers for 285 s expects about 8.2 zeros each', () => {
    expect(expectedZeros((100e6 / 4) * 285)).toBeCloseTo(8.2, 1)
  })
})

describe('ExtranonceAllocator', () => {
  it('never hands out a value in use or parked, frees it after RESUME_MS', () => {
    const a = new ExtranonceAllocator<number>(1, 1000)
    const got = new Set<number>()
    for (let i = 0; i < 256; i++) got.add(a.allocate()!)
    expect(got.size).toBe(256)
    expect(a.allocate()).toBeUndefined()
    a.park('s1', 5, 0, 0)
    expect(a.resume('s1', RESUME_MS - 1)!.extranonce1).toBe(5)
    a.park('s1', 5, 0, 0)
    a.expire(RESUME_MS)
    expect(a.resume('s1', RESUME_MS)).toBeUndefined()
    expect(a.allocate()).toBe(5)
  })

  it('review fix 3: with no extranonce1 free, allocate evicts the oldest parked reservation (handing its carry to onFree)', () => {
    const freed: [number, number][] = []
    const a = new ExtranonceAllocator<number>(1, 1000, (e1, carry) => freed.push([e1, carry]))
    for (let i = 0; i < 256; i++) a.allocate()
    a.park('old', 5, 50, 0)
    a.park('new', 6, 60, 1)
    expect(a.allocate()).toBe(5)
    expect(freed).toEqual([[5, 50]])
    expect(a.resume('old', 2)).toBeUndefined()
    expect(a.resume('new', 2)!.extranonce1).toBe(6)
    expect(a.allocate()).toBeUndefined() // every value live, nothing parked
  })
})

describe('JobBook: a farmer whose work was taken gets no new job', () => {
  const entropy = new Uint8Array(32).fill(3)
  const f = farmerAddress()
  const key = farmerKeyOf(f)!

  it('even when no job was ever made for it (a session assigned later got fresh work, and credited shares after the work)', () => {
    const book = new JobBook()
    book.openBlock(5, entropy)
    book.markWorked(5, f)
    expect(book.isWorked(f)).toBe(true)
    expect(book.jobFor(f, key)).toBeUndefined()
    const other = farmerAddress()
    expect(book.jobFor(other, farmerKeyOf(other)!)).toBeDefined()
  })

  it('even when the chain worked a block before the stratum opened it; older blocks are forgotten', () => {
    const book = new JobBook()
    book.openBlock(5, entropy)
    book.markWorked(6, f)
    expect(book.jobFor(f, key)).toBeDefined() // block 5's work is still open
    book.openBlock(6, entropy)
    expect(book.isWorked(f)).toBe(true)
    expect(book.jobFor(f, key)).toBeUndefined()
    book.markWorked(5, f) // an older block: ignored
    book.openBlock(7, entropy)
    expect(book.isWorked(f)).toBe(false)
    expect(book.jobFor(f, key)).toBeDefined()
  })

  it('over TCP: a miner logging in after its only farmer was worked gets set_difficulty and no job', async () => {
    const s = await startServer()
    try {
      s.server.onBlock(blockEvent(9))
      s.server.onPlanted({ index: 9, farmers: [f] })
      s.server.markWorked(9, f)
      const c = await Raw.connect(s.port)
      await login(c, PAYOUT)
      await c.until((ls) => ls.some((l) => l.method === 'mining.set_difficulty'))
      await new Promise((r) => setTimeout(r, 200))
      expect(c.notifications('mining.notify')).toHaveLength(0)
      c.close()
    } finally {
      await s.close()
    }
  })
})
