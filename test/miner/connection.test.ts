// The client's connection lifecycle against pools that drop, stall or refuse.
// Review issue 3: a failed first connect left a reconnect timer behind, so two
// attempts ran at once and sockets leaked. Review issue 5: a silent pool held a
// dead socket forever (request timeouts closed nothing; no connect timeout).
// Review issue 6: local failures (connection closed, timeout) counted as pool
// rejections. Review of the miner, issue 7: any answer to a submit without an
// error counted as accepted, though only true accepts ({"result": false,
// "error": null} is a Stratum v1 pool's rejection).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Miner } from '../../src/miner/miner.js'
import { StratumClient, isAuthorizeRefused, RESULT_NOT_TRUE_CODE } from '../../src/miner/client.js'
import { PAYOUT } from '../stratum/helpers.js'
import { FakePool, login, work, waitFor } from './fake-pool.js'

let pool: FakePool | undefined
let miner: Miner | undefined
let client: StratumClient | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  client?.close()
  await miner?.stop()
  await pool?.close()
  pool = miner = client = undefined
})

describe('first connect', () => {
  it('retries one attempt at a time: after 6 connections closed before authorize, exactly one stays open', async () => {
    const FAILS = 6
    pool = await FakePool.start((c, r) => {
      if (c.n <= FAILS) return c.destroy()
      login(c, r)
    })
    // Jitter that made the old client's leftover reconnect timer fire after the
    // next connect() had begun (its draws alternate: top of the range, bottom).
    let draw = 0
    vi.spyOn(Math, 'random').mockImplementation(() => (draw++ % 2 === 0 ? 1 : 0))
    miner = new Miner({ url: pool.url, user: PAYOUT, threads: 1, backoffMsMin: 5, backoffMsMax: 40 })
    let failures = 0
    miner.client.on('connectFailed', () => failures++)
    await miner.start()
    // Any timer left behind by the failed attempts fires within backoffMsMax.
    await new Promise((r) => setTimeout(r, 200))
    expect(failures).toBe(FAILS)
    expect(pool.conns).toHaveLength(FAILS + 1)
    expect(pool.open().map((c) => c.n)).toEqual([FAILS + 1])
    expect(miner.client.ready).toBe(true)
  })

  it('a refused username (24) is not retried: start() rejects', async () => {
    pool = await FakePool.start((c, r) => {
      if (r.method === 'mining.authorize') return c.error(r.id, 24, 'Unauthorized worker')
      login(c, r)
    })
    miner = new Miner({ url: pool.url, user: PAYOUT, threads: 1, backoffMsMin: 5, backoffMsMax: 10 })
    const err = await miner.start().then(() => undefined, (e: unknown) => e)
    expect(isAuthorizeRefused(err)).toBe(true)
    expect((err as Error).message).toMatch(/the pool refused user .*Unauthorized worker \(24\)/)
    expect(pool.conns).toHaveLength(1)
  })

  it('a refused username on a later reconnect stops the client with "fatal"', async () => {
    pool = await FakePool.start((c, r) => {
      if (c.n === 2 && r.method === 'mining.authorize') return c.error(r.id, 24, 'Unauthorized worker')
      login(c, r, (cc) => {
        if (cc.n === 1) cc.end()
      })
    })
    client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 5, backoffMsMax: 10 })
    const fatal: Error[] = []
    client.on('fatal', (e: Error) => fatal.push(e))
    await client.connect()
    await waitFor(() => fatal.length === 1)
    expect(isAuthorizeRefused(fatal[0])).toBe(true)
    expect(pool.conns).toHaveLength(2)
  })
})

describe('liveness', () => {
  it('a request left unanswered closes the connection, which is reopened', async () => {
    pool = await FakePool.start((c, r) => {
      if (r.method !== 'mining.submit') login(c, r) // submits are never answered
    })
    client = new StratumClient({ url: pool.url, user: PAYOUT, requestTimeoutMs: 200, backoffMsMin: 5, backoffMsMax: 10 })
    const reasons: string[] = []
    client.on('disconnect', (why: string) => reasons.push(why))
    await client.connect()
    const r = await client.submit('j1', 'aabbcc0000000001')
    expect(r).toEqual({ status: 'lost', message: 'mining.submit timed out after 200 ms' })
    await waitFor(() => pool!.conns[0]!.closed && pool!.conns.length === 2 && client!.ready)
    expect(reasons).toEqual(['mining.submit unanswered for 200 ms'])
  })

  it('a TLS handshake that never completes times out', async () => {
    pool = await FakePool.start(() => {}) // plain TCP that never answers the ClientHello
    client = new StratumClient({ url: `stratum+ssl://127.0.0.1:${pool.port}`, user: PAYOUT, connectTimeoutMs: 200 })
    await expect(client.connect()).rejects.toThrow('connect timed out after 200 ms')
    await waitFor(() => pool!.conns.length === 1 && pool!.conns[0]!.closed)
  }, 10_000)

  it('a pool that accepts and never answers subscribe fails the attempt', async () => {
    pool = await FakePool.start(() => {})
    client = new StratumClient({ url: pool.url, user: PAYOUT, requestTimeoutMs: 200 })
    await expect(client.connect()).rejects.toThrow('mining.subscribe timed out after 200 ms')
    await waitFor(() => pool!.conns[0]!.closed)
  })
})

describe('share counts', () => {
  it('counts submits lost with the connection apart from the pool’s rejections', async () => {
    pool = await FakePool.start((c, r) => {
      if (r.method === 'mining.submit') {
        // First connection: dropped at the first share, no answer. Then: every share low.
        if (c.n === 1) return c.destroy()
        return c.error(r.id, 23, 'Low difficulty share')
      }
      login(c, r, work)
    })
    miner = new Miner({ url: pool.url, user: PAYOUT, threads: 1, backoffMsMin: 5, backoffMsMax: 10 })
    await miner.start()
    await waitFor(() => miner!.stats.rejected >= 3 && miner!.stats.lost >= 1)
    expect(Object.keys(miner.stats.rejects)).toEqual(['23'])
    expect(miner.stats.rejects[23]).toBe(miner.stats.rejected)
    expect(miner.stats.accepted).toBe(0)
  })

  it('issue 7: only a result of true accepts a share; false, null or anything else without an error is a rejection', async () => {
    const results: unknown[] = [false, null, 'ok', { accepted: true }, 1, true]
    pool = await FakePool.start((c, r) => {
      if (r.method === 'mining.submit') return c.send({ id: r.id, result: results[c.submits().length - 1], error: null })
      login(c, r)
    })
    client = new StratumClient({ url: pool.url, user: PAYOUT })
    await client.connect()
    const got = []
    for (let i = 0; i < results.length; i++) got.push(await client.submit('j1', `aabbcc000000000${i}`))
    const rejected = (message: string) => ({ status: 'rejected', code: RESULT_NOT_TRUE_CODE, message })
    expect(got).toEqual([
      rejected('mining.submit answered false, not true'),
      rejected('mining.submit answered null, not true'),
      rejected('mining.submit answered "ok", not true'),
      rejected('mining.submit answered {"accepted":true}, not true'),
      rejected('mining.submit answered 1, not true'),
      { status: 'accepted' },
    ])
    expect(pool.conns).toHaveLength(1)
  })

  it('issue 7: the miner counts {"result": false, "error": null} as rejected, not accepted', async () => {
    pool = await FakePool.start((c, r) => {
      if (r.method === 'mining.submit') return c.send({ id: r.id, result: false, error: null })
      login(c, r, work)
    })
    miner = new Miner({ url: pool.url, user: PAYOUT, threads: 1 })
    await miner.start()
    await waitFor(() => miner!.stats.rejected >= 3)
    expect(miner.stats.accepted).toBe(0)
    expect(miner.stats.rejects).toEqual({ [RESULT_NOT_TRUE_CODE]: miner.stats.rejected })
  })
})
