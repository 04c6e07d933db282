// The HTTP server over real sockets on port 0: every route with good and bad
// input, admin authorization, limits (body, timeouts), content types.
// Review of the HTTP limits, issue 4: a malformed request pipelined behind a
// pending answer got its raw 400 written first, taken for the earlier answer.
// Issue 5: node:http answered HTTP/1.1 without Host (400) and an unknown Expect
// (417) with empty bodies, though every error has a JSON {error} body.
import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from 'vitest'
import net from 'node:net'
import { startHttpServer, type HttpServer } from '../../src/http/server.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { silentLogger } from '../../src/log.js'
import { PoolError, ErrorCode } from '../../src/errors.js'
import { MemoryView, MINER } from './memory-view.js'

const TOKEN = 'admin-token-0123456789abcdef'
const OTHER = 'GARZLKUE34ZUEEMU3BDCB5BDMGDVAXBA6O4TWXSICSBREMYCCR2FDVT5'
// OTHER with its last character changed: right shape, wrong checksum
const BAD_CHECKSUM = 'GARZLKUE34ZUEEMU3BDCB5BDMGDVAXBA6O4TWXSICSBREMYCCR2FDVT4'

let view: MemoryView
let server: HttpServer
let metrics: ReturnType<typeof createMetrics>

beforeAll(async () => {
  view = new MemoryView()
  metrics = createMetrics()
  // No cache: these tests change the view between requests (coalescing is tested in overload.test.ts).
  server = await startHttpServer({ host: '127.0.0.1', port: 0, view, metrics, logger: silentLogger(), adminToken: TOKEN, viewTimeoutMs: 300, viewCacheMs: 0, stakePercentDefault: 5 })
})
afterAll(() => server.close())
// A call whose answer timed out goes on; the next test must not share it.
afterEach(() => view.settled())
beforeEach(() => {
  view.calls = []
  view.delayMs = 0
  view.throwOn = null
})

async function get(path: string, init: RequestInit = {}) {
  const res = await fetch(server.url + path, init)
  const text = await res.text()
  let json: any
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.status, headers: res.headers, text, json }
}
const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  get(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
const admin = { authorization: `Bearer ${TOKEN}` }

/** One raw HTTP exchange; resolves with everything the server sent before closing or `ms`. */
function raw(data: string | Buffer, ms = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(server.port, '127.0.0.1')
    let out = ''
    const timer = setTimeout(() => { s.destroy(); resolve(out) }, ms)
    s.on('data', (d) => (out += d.toString('latin1')))
    s.on('close', () => { clearTimeout(timer); resolve(out) })
    s.on('error', (e) => { clearTimeout(timer); out ? resolve(out) : reject(e) })
    s.write(data)
  })
}

describe('public routes', () => {
  it('GET /: a static status page from the same view, with a strict content security policy', async () => {
    const r = await get('/')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(r.text).toContain('<h1>kale-pool</h1>')
    expect(r.text).toContain('Recent blocks')
    expect(r.text).not.toContain('<script')
    const pool = await view.pool()
    if (pool.block) expect(r.text).toContain(`${pool.block.index} (open`)
    expect(view.calls).toContain('pool')
  })

  it('GET /: a view that hangs gives 503, not a hung page', async () => {
    view.delayMs = 1000
    const r = await get('/')
    expect(r.status).toBe(503)
  })

  it('GET /metrics: Prometheus text with the registry content type', async () => {
    const r = await get('/metrics')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(r.text).toContain('# TYPE kale_pool_shares_total counter')
    expect(r.text).toContain('kale_pool_shares_total{result="accepted"} 0')
  })

  it('GET /health: 200 when every part is ok, 503 naming the failing part', async () => {
    const ok = await get('/health')
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(ok.json).toMatchObject({ status: 'ok', block: { ok: true, index: 7 }, rpc: { ok: true }, database: { ok: true }, sessions: { ok: true } })
    const saved = view.healthValue
    view.healthValue = { ...saved, rpc: { ok: false, reason: 'RPC_TIMEOUT' }, database: { ok: false, reason: 'connection refused' } }
    const bad = await get('/health')
    view.healthValue = saved
    expect(bad.status).toBe(503)
    expect(bad.json.status).toBe('fail')
    expect(bad.json.failing).toEqual(['rpc', 'database'])
    expect(bad.json.rpc.reason).toBe('RPC_TIMEOUT')
  })

  it('GET /health: a view that hangs gives 503, not a hung request', async () => {
    view.delayMs = 1000
    const t0 = Date.now()
    const r = await get('/health')
    expect(r.status).toBe(503)
    expect(r.json.error).toMatch(/timed out/)
    expect(Date.now() - t0).toBeLessThan(900)
  })

  it('GET /api/pool: money as stroop strings plus KALE strings, never numbers', async () => {
    const r = await get('/api/pool')
    expect(r.status).toBe(200)
    expect(r.json.payoutThresholdStroops).toBe('1000000000')
    expect(r.json.payoutThresholdKale).toBe('100')
    expect(r.json.paidStroops).toBe('123')
    expect(r.json.paidKale).toBe('0.0000123')
    expect(r.json.scheme).toBe('prop')
  })

  it('GET /api/blocks: default page, explicit limit, paging with before', async () => {
    const d = await get('/api/blocks')
    expect(d.status).toBe(200)
    expect(d.json.blocks).toHaveLength(20)
    expect(d.json.limit).toBe(20)
    expect(d.json.blocks[0]).toMatchObject({ index: 250, rewardStroops: '25050000000', rewardKale: '2505', feeKale: '25.05' })
    const p = await get('/api/blocks?limit=5&before=100')
    expect(p.json.blocks.map((b: any) => b.index)).toEqual([99, 98, 97, 96, 95])
    expect(p.json.next).toBe(95)
    const end = await get('/api/blocks?limit=100&before=3')
    expect(end.json.blocks).toHaveLength(2)
    expect(end.json.next).toBeNull()
    expect(view.calls).toEqual(['blocks 20 undefined', 'blocks 5 100', 'blocks 100 3'])
  })

  it.each([
    ['limit=0', /limit must be an integer 1\.\.100/],
    ['limit=101', /limit must be an integer 1\.\.100/],
    ['limit=-1', /limit/],
    ['limit=1.5', /limit/],
    ['limit=abc', /limit/],
    ['limit=', /limit/],
    ['limit=1e2', /limit/],
    ['limit=99999999999999999999', /limit/],
    ['limit=5&limit=6', /limit must be given once/],
    ['before=-3', /before must be an integer/],
    ['before=x', /before/],
  ])('GET /api/blocks?%s → 400', async (q, message) => {
    const r = await get(`/api/blocks?${q}`)
    expect(r.status).toBe(400)
    expect(r.json.error).toMatch(message)
    expect(view.calls).toEqual([])
  })

  it('GET /api/miners/:address: known → 200 with exact bigint money; unknown → 404', async () => {
    const r = await get(`/api/miners/${MINER}`)
    expect(r.status).toBe(200)
    // 2^53 + 1: a double would print 9007199254740992
    expect(r.json.balanceStroops).toBe('9007199254740993')
    expect(r.json.balanceKale).toBe('900719925.4740993')
    expect(r.json.blocks[0].creditStroops).toBe('9007199254740993')
    expect(r.json.workers[0].name).toBe('rig1')
    const u = await get(`/api/miners/${OTHER}`)
    expect(u.status).toBe(404)
    expect(u.json.error).toMatch(/unknown miner/)
    const limited = await get(`/api/miners/${MINER}?blocks=3`)
    expect(limited.status).toBe(200)
    expect(view.calls).toContain(`miner ${MINER} 3`)
  })

  it.each([
    ['bad checksum', BAD_CHECKSUM],
    ['lower case', MINER.toLowerCase()],
    ['a seed', 'SCXUJYCJBHPZOFIVGX65QXOOH6DOJMDGDXYSBBBHEADCVLZQDX7MJJAX'],
    ['too short', MINER.slice(0, 55)],
    ['too long', MINER + 'A'],
    ['a contract id', 'CDL74RF5BLYR2YBLCCI7F5FB6TPSCLKEJUBSD2RSVWZ4YHF3VMFAIGWA'],
    ['percent-encoded junk', '%00%01'],
    ['unicode', 'G\u00c9' + 'A'.repeat(54)],
  ])('GET /api/miners/<%s> → 400 naming the address', async (_, address) => {
    const r = await get(`/api/miners/${encodeURIComponent(address)}`)
    expect(r.status).toBe(400)
    expect(r.json.error).toMatch(/address must be a Stellar account id/)
    expect(view.calls).toEqual([])
  })

  it('GET /api/miners/:address?blocks=0 → 400', async () => {
    const r = await get(`/api/miners/${MINER}?blocks=0`)
    expect(r.status).toBe(400)
    expect(r.json.error).toMatch(/blocks must be an integer 1\.\.100/)
  })

  it('GET /api/farmers: list, bounded limit', async () => {
    const r = await get('/api/farmers')
    expect(r.status).toBe(200)
    expect(r.json.farmers).toEqual([{ publicKey: MINER, status: 'active', stakePercent: 0, lastBlockWorked: 250, zeros: 9 }])
    expect((await get('/api/farmers?limit=1001')).status).toBe(400)
    expect((await get('/api/farmers?limit=1000')).status).toBe(200)
  })

  it('HEAD answers headers without a body', async () => {
    const res = await fetch(server.url + '/api/pool', { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(10)
    expect(await res.text()).toBe('')
  })
})

describe('unknown paths and methods', () => {
  it.each(['/index.html', '/api', '/api/pools', '/api/miners', '/api/miners/', `/api/miners/${MINER}/x`, '/metrics/x', '/api/farmers/x/enable', '/%2e%2e/etc/passwd', '/' + 'a/'.repeat(50)])('%s → 404', async (path) => {
    const r = await get(path)
    expect(r.status).toBe(404)
    expect(r.json).toEqual({ error: 'not found' })
  })

  it('a trailing slash is the same resource', async () => {
    expect((await get('/api/pool/')).status).toBe(200)
  })

  it('bad percent-encoding → 400', async () => {
    const r = await get('/api/miners/%E0%A4%A')
    expect(r.status).toBe(400)
  })

  it.each([
    ['DELETE', '/api/pool', 'GET, HEAD'],
    ['PUT', '/api/farmers', 'GET, POST, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['GET', '/api/payouts/run', 'POST'],
    ['GET', `/api/farmers/${MINER}/disable`, 'POST'],
  ])('%s %s → 405 with Allow: %s', async (method, path, allow) => {
    const r = await get(path, { method })
    expect(r.status).toBe(405)
    expect(r.headers.get('allow')).toBe(allow)
  })
})

describe('admin API', () => {
  const routes: [string, unknown][] = [
    ['/api/farmers', { count: 1 }],
    [`/api/farmers/${MINER}/disable`, undefined],
    ['/api/payouts/run', undefined],
  ]

  it.each(routes)('POST %s refuses without a token, with a wrong one, with another scheme', async (path, body) => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789abc' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { authorization: 'Bearer' }]) {
      const r = await post(path, body, headers)
      expect(r.status).toBe(401)
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/)
      expect(r.text).not.toContain(TOKEN)
    }
    expect(view.calls).toEqual([])
  })

  it('POST /api/farmers registers with the token; stakePercent defaults to STAKE_PERCENT', async () => {
    const r = await post('/api/farmers', { count: 2, stakePercent: 12.5 }, admin)
    expect(r.status).toBe(201)
    expect(r.json.publicKeys).toHaveLength(2)
    const d = await post('/api/farmers', { count: 1 }, { authorization: `bearer  ${TOKEN}` })
    expect(d.status).toBe(201)
    expect(view.calls).toEqual(['addFarmers 2 12.5', 'addFarmers 1 5'])
  })

  it.each([
    [undefined, /body must be a JSON object/],
    [[], /body must be a JSON object/],
    ['"x"', /body must be a JSON object/],
    [{}, /count must be an integer 1\.\.1000/],
    [{ count: 0 }, /count/],
    [{ count: 1001 }, /count/],
    [{ count: 1.5 }, /count/],
    [{ count: '3' }, /count/],
    [{ count: 1, stakePercent: 101 }, /stakePercent must be a number 0\.\.100/],
    [{ count: 1, stakePercent: -1 }, /stakePercent/],
    [{ count: 1, stakePercent: '5' }, /stakePercent/],
    [{ count: 1, extra: true }, /unknown field "extra"/],
    ['{"count":', /not valid JSON/],
  ])('POST /api/farmers %j → 400', async (body, message) => {
    const r = await post('/api/farmers', body, admin)
    expect(r.status).toBe(400)
    expect(r.json.error).toMatch(message)
    expect(view.calls).toEqual([])
  })

  it('POST /api/farmers with a non-JSON content type → 415', async () => {
    const r = await get('/api/farmers', { method: 'POST', headers: { ...admin, 'content-type': 'text/plain' }, body: '{"count":1}' })
    expect(r.status).toBe(415)
  })

  it('POST /api/farmers/:key/disable: known → 200, unknown → 404, bad key → 400', async () => {
    expect((await post(`/api/farmers/${MINER}/disable`, undefined, admin)).json).toEqual({ publicKey: MINER, status: 'disabled' })
    expect((await post(`/api/farmers/${OTHER}/disable`, undefined, admin)).status).toBe(404)
    const bad = await post(`/api/farmers/${BAD_CHECKSUM}/disable`, undefined, admin)
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatch(/key must be a Stellar account id/)
  })

  it('POST /api/payouts/run runs payouts', async () => {
    const r = await post('/api/payouts/run', undefined, admin)
    expect(r.status).toBe(200)
    expect(r.json).toEqual({ payouts: 1, paidStroops: '5', paidKale: '0.0000005', skipped: 0 })
  })

  it('every admin route answers 403 when ADMIN_TOKEN is not set, whatever the header', async () => {
    const s = await startHttpServer({ host: '127.0.0.1', port: 0, view, metrics: createMetrics(), logger: silentLogger() })
    try {
      for (const [path, body] of routes) {
        for (const headers of [{}, admin, { authorization: 'Bearer ' }]) {
          const res = await fetch(s.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) })
          expect(res.status).toBe(403)
          expect(await res.json()).toEqual({ error: 'admin API disabled: ADMIN_TOKEN is not set' })
        }
      }
      expect(view.calls).toEqual([])
      expect((await fetch(s.url + '/api/pool')).status).toBe(200)
    } finally {
      await s.close()
    }
  })
})

describe('limits and failures', () => {
  it('a body over 64 KiB → 413 (declared length), and the handler never runs', async () => {
    const big = JSON.stringify({ count: 1, pad: 'x'.repeat(70_000) })
    const r = await post('/api/farmers', big, admin)
    expect(r.status).toBe(413)
    expect(view.calls).toEqual([])
  })

  it('a chunked body that grows past 64 KiB → 413', async () => {
    const head = `POST /api/farmers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`
    const chunk = 'y'.repeat(16_000)
    const body = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('') + '0\r\n\r\n'
    const out = await raw(head + body)
    expect(out).toMatch(/^HTTP\/1\.1 413/)
    expect(view.calls).toEqual([])
  })

  it('an unauthenticated big body is refused with 401 before it is read', async () => {
    const r = await post('/api/farmers', 'x'.repeat(200_000))
    expect(r.status).toBe(401)
  })

  it('a request target the URL parser refuses → 400, not 500', async () => {
    for (const target of ['//[', 'http://[']) {
      const out = await raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      expect(out, target).toMatch(/^HTTP\/1\.1 400/)
      expect(out).toContain('{"error":"malformed request target"}')
    }
  })

  it('a client gone in the middle of an admin body is a 400 (its fault), not a 500', async () => {
    const before = await metrics.registry.metrics()
    const count500 = (t: string) => [...t.matchAll(/kale_pool_http_requests_total\{route="\/api\/farmers",status="500"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0)
    const s = net.connect(server.port, '127.0.0.1')
    await new Promise<void>((r) => s.once('connect', () => r()))
    s.write(`POST /api/farmers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"count":`)
    await new Promise((r) => setTimeout(r, 100))
    s.destroy()
    let text = ''
    for (let i = 0; i < 50 && !/route="\/api\/farmers",status="400"/.test(text); i++) {
      await new Promise((r) => setTimeout(r, 20))
      text = await metrics.registry.metrics()
    }
    expect(text).toMatch(/kale_pool_http_requests_total\{route="\/api\/farmers",status="400"\} [1-9]/)
    expect(count500(text)).toBe(count500(before))
  })

  it('garbage on the socket → 400 and the connection closes; the server keeps serving', async () => {
    const out = await raw(Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]))
    expect(out).toMatch(/^HTTP\/1\.1 400/)
    expect((await get('/api/pool')).status).toBe(200)
  })

  it('a client that drips its request slower than the request timeout gets 408 and is cut off', async () => {
    const s = await startHttpServer({ host: '127.0.0.1', port: 0, view, metrics: createMetrics(), logger: silentLogger(), requestTimeoutMs: 400 })
    try {
      const t0 = Date.now()
      const out = await new Promise<string>((resolve) => {
        const sock = net.connect(s.port, '127.0.0.1')
        let got = ''
        sock.on('data', (d) => (got += d.toString()))
        sock.on('close', () => resolve(got))
        sock.on('error', () => {})
        sock.write('GET /api/pool HTTP/1.1\r\nHost: x\r\n')
        const drip = setInterval(() => sock.writable && sock.write('X-A: b\r\n'), 100)
        sock.on('close', () => clearInterval(drip))
        setTimeout(() => sock.destroy(), 5000)
      })
      expect(out).toMatch(/^HTTP\/1\.1 408/)
      expect(out).toMatch(/\r\n\r\n\{"error":"request not received within 400 ms"\}$/)
      expect(Date.now() - t0).toBeLessThan(2000)
    } finally {
      await s.close()
    }
  })

  it('a request refused before it is parsed (400 malformed, 431 headers too big) still gets a JSON {error} body', async () => {
    const body = (out: string) => JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4))
    const garbage = await raw(Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]))
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /)
    expect(garbage).toMatch(/\r\ncontent-type: application\/json; charset=utf-8\r\n/i)
    expect(body(garbage)).toEqual({ error: 'malformed HTTP request' })
    const big = await raw(`GET /api/pool HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    expect(big).toMatch(/^HTTP\/1\.1 431 /)
    expect(body(big)).toEqual({ error: 'request headers larger than 16384 bytes' })
  })

  it('issue 5: an HTTP/1.1 request without Host (400) and an Expect other than 100-continue (417) get a JSON {error} body too', async () => {
    const body = (out: string) => JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4))
    const noHost = await raw('GET /api/pool HTTP/1.1\r\nConnection: close\r\n\r\n')
    expect(noHost).toMatch(/^HTTP\/1\.1 400 /)
    expect(noHost).toMatch(/\r\ncontent-type: application\/json; charset=utf-8\r\n/i)
    expect(body(noHost)).toEqual({ error: 'an HTTP/1.1 request needs a Host header' })
    const teapot = await raw('GET /api/pool HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nConnection: close\r\n\r\n')
    expect(teapot).toMatch(/^HTTP\/1\.1 417 /)
    expect(body(teapot)).toEqual({ error: 'Expect: only 100-continue is supported' })
    expect(view.calls).toEqual([])
    // HTTP/1.0 needs no Host; 100-continue is still node's to answer.
    expect(await raw('GET /api/pool HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /)
    const json = '{"count":1}'
    const cont = await raw(`POST /api/farmers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${json}`)
    expect(cont).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /)
    expect(view.calls).toEqual(['pool', 'addFarmers 1 5'])
  })

  it('issue 4: a malformed request pipelined behind one still being answered closes the connection instead of answering 400 ahead of it', async () => {
    view.delayMs = 200
    const out = await raw(Buffer.concat([Buffer.from('GET /api/blocks?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from([0, 1, 2, 255, 13, 10, 13, 10])]))
    // The old server wrote its 400 at once: the client took it for the answer to GET /api/blocks.
    expect(out).toBe('')
    expect((await get('/api/pool')).status).toBe(200)
  })

  it('headers over 16 KiB → 431', async () => {
    const out = await raw(`GET /api/pool HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    expect(out).toMatch(/^HTTP\/1\.1 431/)
  })

  it('a view failure → 500 without internals; a transient PoolError → 503 with its code', async () => {
    view.throwOn = 'pool'
    const r = await get('/api/pool')
    expect(r.status).toBe(500)
    expect(r.json).toEqual({ error: 'internal error' })
    expect(r.text).not.toContain('hunter2')
    view.error = new PoolError(ErrorCode.DATABASE_UNAVAILABLE, 'database unreachable')
    const u = await get('/api/pool')
    expect(u.status).toBe(503)
    expect(u.json).toEqual({ error: 'temporarily unavailable', code: 'DATABASE_UNAVAILABLE' })
  })

  it('counts requests by route pattern and status, never by raw path', async () => {
    await get(`/api/miners/${OTHER}`)
    await get('/nope/' + 'z'.repeat(30))
    const text = await metrics.registry.metrics()
    expect(text).toMatch(/kale_pool_http_requests_total\{route="\/api\/miners\/:address",status="404"\} [1-9]/)
    expect(text).toMatch(/kale_pool_http_requests_total\{route="unmatched",status="404"\} [1-9]/)
    expect(text).not.toContain(OTHER)
    expect(text).not.toContain('zzzz')
  })
})

describe('status page rendering', () => {
  it('escapes every value and formats hashrates', async () => {
    const { escapeHtml, formatHashrate } = await import('../../src/http/status-page.js')
    expect(escapeHtml(`<script>alert("x") & 'y'</script>`)).toBe('&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;')
    expect(formatHashrate(0)).toBe('0 H/s')
    expect(formatHashrate(NaN)).toBe('0 H/s')
    expect(formatHashrate(3_456_000)).toBe('3.46 MH/s')
    expect(formatHashrate(2e18)).toBe('2000.00 PH/s')
  })
})
