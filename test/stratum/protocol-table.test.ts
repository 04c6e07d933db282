// The whole protocol table over real TCP: every method, every share error code in
// its situation, JSON-RPC errors, id echo.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startServer, Raw, login, findNonce, blockEvent, farmerAddress, PAYOUT, StubVerifier } from './helpers.js'

type Srv = Awaited<ReturnType<typeof startServer>>
let srv: Srv
const farmer = farmerAddress()

beforeAll(async () => {
  srv = await startServer()
  srv.server.onBlock(blockEvent(100))
  srv.server.onPlanted({ index: 100, farmers: [farmer] })
})
afterAll(async () => srv.close())

describe('methods', () => {
  it('subscribe answers [sessionId, extranonce1, extranonce2Size] and echoes number and string ids', async () => {
    const c = await Raw.connect(srv.port)
    const r = await c.call(7, 'mining.subscribe', ['ua/1'])
    expect(r.error ?? null).toBeNull()
    const [sid, e1, size] = r.result as [string, string, number]
    expect(sid).toMatch(/^[0-9a-f]{16}$/)
    expect(e1).toMatch(/^[0-9a-f]{6}$/)
    expect(size).toBe(5)
    const r2 = await c.call('abc-1', 'mining.subscribe', [])
    expect(r2.id).toBe('abc-1')
    expect(c.raw.some((l) => l.includes('"id":7,'))).toBe(true)
    c.close()
  })

  it('issue 9: numeric ids are echoed verbatim (big integers, trailing zeros, exponents), also on submits and errors', async () => {
    const c = await Raw.connect(srv.port)
    c.send('{"id":12345678901234567890,"method":"mining.subscribe","params":[]}\n')
    c.send('{"method":"mining.extranonce.subscribe","params":[], "id" : 1.50}\n')
    c.send('{"id":1e2,"method":"mining.submit","params":["w","1","00"]}\n')
    c.send('{"id":2.0,"method":"mining.nope","params":[]}\n')
    await c.until((ls) => ls.length >= 4)
    expect(c.raw[0]).toMatch(/^\{"jsonrpc":"2.0","id":12345678901234567890,"result":/)
    expect(c.raw[1]).toBe('{"jsonrpc":"2.0","id":1.50,"result":true}')
    expect(c.raw[2]).toMatch(/^\{"jsonrpc":"2.0","id":1e2,"error":/)
    expect(c.raw[3]).toMatch(/^\{"jsonrpc":"2.0","id":2.0,"error":\{"code":-32601/)
    c.close()
  })

  it('accepts requests with and without "jsonrpc", rejects a wrong version with -32600', async () => {
    const c = await Raw.connect(srv.port)
    c.send({ jsonrpc: '2.0', id: 1, method: 'mining.subscribe', params: [] })
    c.send({ jsonrpc: '1.0', id: 2, method: 'mining.subscribe', params: [] })
    await c.until((ls) => ls.length >= 2)
    expect(c.lines[0]!.result).toBeInstanceOf(Array)
    expect(c.lines[1]!.error!.code).toBe(-32600)
    c.close()
  })

  it('authorize sends true, then set_difficulty, then notify when a block is open', async () => {
    const c = await Raw.connect(srv.port)
    await c.call(1, 'mining.subscribe', [])
    c.send({ id: 2, method: 'mining.authorize', params: [`${PAYOUT}.rig-1`, 'x'] })
    await c.until((ls) => ls.some((l) => l.method === 'mining.notify'))
    const order = c.lines.slice(1).map((l) => l.method ?? `id:${String(l.id)}`)
    expect(order.slice(0, 3)).toEqual(['id:2', 'mining.set_difficulty', 'mining.notify'])
    const n = c.notifications('mining.notify')[0]!.params!
    expect(n[1]).toBe(100)
    expect(n[2]).toMatch(/^[0-9a-f]{64}$/)
    expect(n[3]).toMatch(/^[0-9a-f]{64}$/)
    expect(n[4]).toBe(farmer)
    expect(n[5]).toBe(true)
    c.close()
  })

  it('authorize: 24 on a bad checksum, bad worker name or C-address; 25 before subscribe; -32602 on bad params', async () => {
    const c = await Raw.connect(srv.port)
    expect((await c.call(1, 'mining.authorize', [PAYOUT])).error!.code).toBe(25)
    await c.call(2, 'mining.subscribe', [])
    const bad = PAYOUT.slice(0, -1) + (PAYOUT.endsWith('A') ? 'B' : 'A')
    expect((await c.call(3, 'mining.authorize', [bad])).error!.code).toBe(24)
    expect((await c.call(4, 'mining.authorize', [`${PAYOUT}.bad name`])).error!.code).toBe(24)
    expect((await c.call(5, 'mining.authorize', [`${PAYOUT}.${'w'.repeat(33)}`])).error!.code).toBe(24)
    expect((await c.call(6, 'mining.authorize', [42])).error!.code).toBe(-32602)
    expect((await c.call(7, 'mining.authorize', [PAYOUT, 'd=abc'])).error!.code).toBe(-32602)
    c.close()
  })

  it('suggest_difficulty and extranonce.subscribe answer true; bad params -32602', async () => {
    const c = await Raw.connect(srv.port)
    await c.call(1, 'mining.subscribe', [])
    expect((await c.call(2, 'mining.suggest_difficulty', [64])).result).toBe(true)
    expect((await c.call(3, 'mining.suggest_difficulty', ['x'])).error!.code).toBe(-32602)
    expect((await c.call(4, 'mining.extranonce.subscribe', [])).result).toBe(true)
    await c.call(5, 'mining.authorize', [PAYOUT])
    await c.until((ls) => ls.some((l) => l.method === 'mining.set_difficulty'))
    expect(c.notifications('mining.set_difficulty')[0]!.params).toEqual([64])
    c.close()
  })

  it('JSON-RPC errors: -32601 unknown method, -32600 not an object, -32602 params not an array, -32700 closes', async () => {
    const c = await Raw.connect(srv.port)
    expect((await c.call(1, 'mining.nope', [])).error!.code).toBe(-32601)
    expect((await c.call(2, 'mining.subscribe', 'x' as unknown as unknown[])).error!.code).toBe(-32602)
    c.send('[1,2,3]\n')
    c.send('42\n')
    c.send('{"id":3}\n')
    await c.until((ls) => ls.length >= 5)
    expect(c.lines.slice(2).map((l) => l.error!.code)).toEqual([-32600, -32600, -32600])
    expect(c.lines[4]!.id).toBe(3)
    c.send('{"id":4,"method":\n')
    await c.untilClosed()
    expect(c.lines.at(-1)!.error!.code).toBe(-32700)
    expect(c.lines.at(-1)!.id).toBeNull()
  })
})

describe('shares', () => {
  it('25 before subscribe, 24 before authorize and for an unknown worker', async () => {
    const c = await Raw.connect(srv.port)
    expect((await c.call(1, 'mining.submit', ['w', '1', '0000000000000000'])).error!.code).toBe(25)
    await c.call(2, 'mining.subscribe', [])
    expect((await c.call(3, 'mining.submit', ['w', '1', '0000000000000000'])).error!.code).toBe(24)
    await c.call(4, 'mining.authorize', [PAYOUT])
    expect((await c.call(5, 'mining.submit', [`${PAYOUT}.other`, '1', '0000000000000000'])).error!.code).toBe(24)
    expect((await c.call(6, 'mining.submit', [PAYOUT, 1])).error!.code).toBe(-32602)
    c.close()
  })

  it('20 malformed nonce, 21 unknown job, accepted, 22 duplicate, 23 low difficulty', async () => {
    const c = await Raw.connect(srv.port)
    const { e1 } = await login(c, PAYOUT)
    const n = await c.nextNotify()
    const jobId = n.params![0] as string
    const other = (parseInt(e1, 16) ^ 1).toString(16).padStart(6, '0')
    expect((await c.call(1, 'mining.submit', [PAYOUT, jobId, 'xyz'])).error).toEqual({ code: 20, message: 'Malformed nonce' })
    expect((await c.call(2, 'mining.submit', [PAYOUT, jobId, e1 + '00000000zz'])).error!.code).toBe(20)
    expect((await c.call(3, 'mining.submit', [PAYOUT, jobId, other + '0000000000'])).error!.code).toBe(20)
    expect((await c.call(4, 'mining.submit', [PAYOUT, jobId, e1 + '000000000000'])).error!.code).toBe(20)
    const nonce = findNonce(n, e1, 1)
    expect((await c.call(5, 'mining.submit', [PAYOUT, 'ffff', nonce])).error).toEqual({ code: 21, message: 'Job not found' })
    expect((await c.call(6, 'mining.submit', [PAYOUT, jobId, nonce])).result).toBe(true)
    expect((await c.call(7, 'mining.submit', [PAYOUT, jobId, nonce.toUpperCase()])).error).toEqual({ code: 22, message: 'Duplicate share' })
    const share = srv.sink.shares.find((s) => s.payoutAddress === PAYOUT)!
    expect(share).toMatchObject({ block: 100, farmer, worker: 'default', difficulty: 1 })
    c.close()
    // 23: a fixed difficulty of 2^40 that a random nonce misses
    const d = await Raw.connect(srv.port)
    const l = await login(d, `${PAYOUT}.hi`, 'x=1, d=1099511627776')
    const n2 = await d.nextNotify()
    const miss = findNonce(n2, l.e1, 2 ** 40, 0, true)
    expect((await d.call(8, 'mining.submit', [`${PAYOUT}.hi`, n2.params![0], miss])).error).toEqual({ code: 23, message: 'Low difficulty share' })
    expect(d.notifications('mining.set_difficulty')[0]!.params).toEqual([2 ** 40])
    d.close()
  })

  it('a share for block N after block N+1 is announced is stale (21); markWorked voids a farmer', async () => {
    const c = await Raw.connect(srv.port)
    const { e1 } = await login(c, PAYOUT)
    const n = await c.nextNotify()
    const nonce = findNonce(n, e1, 1, 10)
    srv.server.onBlock(blockEvent(101))
    expect((await c.call(1, 'mining.submit', [PAYOUT, n.params![0], nonce])).error!.code).toBe(21)
    const f2 = farmerAddress()
    srv.server.onPlanted({ index: 101, farmers: [farmer, f2] })
    const n2 = await c.nextNotify(1)
    expect(n2.params![1]).toBe(101)
    expect(n2.params![5]).toBe(true)
    const worked = n2.params![4] as string
    srv.server.markWorked(101, worked)
    const n3 = await c.nextNotify(2)
    expect(n3.params![4]).not.toBe(worked)
    // issue 7: the job it held is void, so cleanJobs is true (false promised it stays valid).
    expect(n3.params![5]).toBe(true)
    const nonce2 = findNonce(n2, e1, 1, 20)
    expect((await c.call(2, 'mining.submit', [PAYOUT, n2.params![0], nonce2])).error!.code).toBe(21)
    expect((await c.call(3, 'mining.submit', [PAYOUT, n3.params![0], findNonce(n3, e1, 1, 30)])).result).toBe(true)
    // The same work re-issued at a new difficulty: older jobs stay valid, cleanJobs false.
    await c.call(4, 'mining.suggest_difficulty', [2])
    const n4 = await c.nextNotify(3)
    expect(n4.params![4]).toBe(n3.params![4])
    expect(n4.params![5]).toBe(false)
    c.close()
  })

  it('a share at a job\'s frozen difficulty is accepted after a retarget and credited at it', async () => {
    const c = await Raw.connect(srv.port)
    const { e1 } = await login(c, `${PAYOUT}.frozen`)
    const n1 = await c.nextNotify()
    expect((await c.call(1, 'mining.suggest_difficulty', [2 ** 30])).result).toBe(true)
    const n2 = await c.nextNotify(1)
    expect(n2.params![0]).not.toBe(n1.params![0])
    expect(c.notifications('mining.set_difficulty').at(-1)!.params).toEqual([2 ** 30])
    const easy = findNonce(n1, e1, 1, 0, false)
    const r = await c.call(2, 'mining.submit', [`${PAYOUT}.frozen`, n1.params![0], easy])
    expect(r.result).toBe(true)
    expect(srv.sink.shares.filter((s) => s.worker === 'frozen').map((s) => s.difficulty)).toEqual([1])
    // Not `easy` again: n2 is the same work, so that nonce is a duplicate (22).
    const miss = findNonce(n2, e1, 2 ** 30, 1, true)
    expect((await c.call(3, 'mining.submit', [`${PAYOUT}.frozen`, n2.params![0], miss])).error!.code).toBe(23)
    c.close()
  })

  it('the best work per (block, farmer) is the share with the most zeros', async () => {
    const c = await Raw.connect(srv.port)
    const { e1 } = await login(c, `${PAYOUT}.best`)
    const n = await c.nextNotify()
    const idx = n.params![1] as number
    const f = n.params![4] as string
    for (let i = 0; i < 5; i++) await c.call(100 + i, 'mining.submit', [`${PAYOUT}.best`, n.params![0], findNonce(n, e1, 1, 1000 + i)])
    const best = srv.server.bestWork.best(idx, f)!
    const mine = srv.sink.shares.filter((s) => s.block === idx && s.farmer === f)
    expect(best.zeros).toBe(Math.max(...mine.map((s) => s.zeros)))
    c.close()
  })
})

describe('busy', () => {
  it('answers 20 busy when the verifier queue is full or the share sink is full', async () => {
    const stub = new StubVerifier()
    const s = await startServer({}, { verifier: stub })
    try {
      s.server.onBlock(blockEvent(5))
      s.server.onPlanted({ index: 5, farmers: [farmer] })
      const c = await Raw.connect(s.port)
      const { e1 } = await login(c, PAYOUT)
      const n = await c.nextNotify()
      stub.busy = true
      const r = await c.call(1, 'mining.submit', [PAYOUT, n.params![0], findNonce(n, e1, 1)])
      expect(r.error!.code).toBe(20)
      expect(r.error!.message).toMatch(/busy/)
      stub.busy = false
      s.sink.full = true
      expect((await c.call(2, 'mining.submit', [PAYOUT, n.params![0], findNonce(n, e1, 1, 5)])).error!.message).toMatch(/busy/)
      s.sink.full = false
      expect((await c.call(3, 'mining.submit', [PAYOUT, n.params![0], findNonce(n, e1, 1, 9)])).result).toBe(true)
      c.close()
    } finally {
      await s.close()
    }
  })
})

describe('notices', () => {
  it('showMessage reaches the sessions of one payout address; reconnectAll reaches everyone', async () => {
    const c = await Raw.connect(srv.port)
    await login(c, `${PAYOUT}.msg`)
    expect(srv.server.showMessage(PAYOUT, 'add a KALE trustline')).toBeGreaterThanOrEqual(1)
    expect(srv.server.showMessage(farmerAddress(), 'nobody')).toBe(0)
    await c.until((ls) => ls.some((l) => l.method === 'client.show_message'))
    expect(c.notifications('client.show_message')[0]!.params).toEqual(['add a KALE trustline'])
    srv.server.reconnectAll(3)
    await c.until((ls) => ls.some((l) => l.method === 'client.reconnect'))
    expect(c.notifications('client.reconnect')[0]!.params).toEqual(['', 0, 3])
    c.close()
  })
})
