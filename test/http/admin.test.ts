// The admin API's operations over real sockets: one at a time (409), an
// operation that outlasts its timeout goes on (202) without a second batch on
// retry, and its failures reach the operator as clear, scrubbed messages.
import { describe, it, expect, afterEach } from 'vitest'
import { startHttpServer, type HttpServer, type HttpServerOptions } from '../../src/http/server.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { silentLogger } from '../../src/log.js'
import { PoolError, ErrorCode } from '../../src/errors.js'
import { MemoryView } from './memory-view.js'

const TOKEN = 'admin-token-0123456789abcdef'
const admin = { authorization: `Bearer ${TOKEN}` }

let view: MemoryView
let server: HttpServer | undefined

afterEach(async () => {
  await view?.settled()
  await server?.close()
  server = undefined
})

async function start(o: Partial<HttpServerOptions> = {}): Promise<HttpServer> {
  view = new MemoryView()
  server = await startHttpServer({ host: '127.0.0.1', port: 0, view, metrics: createMetrics(), logger: silentLogger(), adminToken: TOKEN, stakePercentDefault: 5, ...o })
  return server
}

async function post(path: string, body?: unknown, headers: Record<string, string> = admin) {
  const res = await fetch(server!.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) as any }
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  expect(cond()).toBe(true)
}

describe('admin operations run one at a time', () => {
  it('while POST /api/farmers runs, another admin request → 409 naming it, and nothing else starts', async () => {
    await start()
    view.delayMs = 400
    const first = post('/api/farmers', { count: 2 })
    await until(() => view.calls.length === 1)
    const again = await post('/api/farmers', { count: 2 })
    expect(again.status).toBe(409)
    expect(again.json.error).toMatch(/^POST \/api\/farmers is still running \(for \d+ s\); admin operations run one at a time$/)
    expect((await post('/api/payouts/run')).status).toBe(409)
    // Authorization still comes first: a stranger learns nothing.
    expect((await post('/api/farmers', { count: 1 }, {})).status).toBe(401)
    expect((await first).status).toBe(201)
    expect(view.calls).toEqual(['addFarmers 2 5'])
    view.delayMs = 0
    expect((await post('/api/payouts/run')).status).toBe(200)
  })

  it('POST /api/farmers outlasting the admin timeout → 202 "still running"; a retry gets 409, not a second batch', async () => {
    await start({ adminTimeoutMs: 150 })
    view.delayMs = 800
    const r = await post('/api/farmers', { count: 3 })
    expect(r.status).toBe(202)
    expect(r.json.status).toBe('running')
    expect(r.json.message).toMatch(/^POST \/api\/farmers is still running after 150 ms and goes on; admin requests answer 409 until it ends/)
    expect(r.json.message).toMatch(/GET \/api\/farmers lists the accounts stored so far/)
    const retry = await post('/api/farmers', { count: 3 })
    expect(retry.status).toBe(409)
    await view.settled()
    view.delayMs = 0
    expect((await post('/api/farmers', { count: 1 })).status).toBe(201)
    expect(view.calls).toEqual(['addFarmers 3 5', 'addFarmers 1 5'])
  })

  it('a request refused before it runs (bad body) does not hold the turn', async () => {
    await start()
    expect((await post('/api/farmers', { count: 0 })).status).toBe(400)
    expect((await post('/api/farmers', { count: 1 })).status).toBe(201)
  })
})

describe('admin failures', () => {
  it('a funding failure → 502 with its code, the scrubbed message and what became of the accounts, not a bare 500', async () => {
    await start()
    view.throwOn = 'addFarmers 2 5'
    view.error = new PoolError(ErrorCode.FUNDING_FAILED, 'friendbot could not fund GAYZH5U72H2YQEFB7SETU23UN4D4KROAZX54Q4EWMIDY3XIQZCXKOIVI: HTTP 500 from https://bot:hunter2@friendbot.example/')
    const r = await post('/api/farmers', { count: 2 })
    expect(r.status).toBe(502)
    expect(r.json).toEqual({
      error: 'POST /api/farmers failed: friendbot could not fund GAYZH5U72H2YQEFB7SETU23UN4D4KROAZX54Q4EWMIDY3XIQZCXKOIVI: HTTP 500 from https://bot:[redacted]@friendbot.example/ (the accounts are stored and the next start retries funding them; a retry now creates new ones)',
      code: 'FUNDING_FAILED',
    })
    expect(r.text).not.toContain('hunter2')
  })

  it('a transient failure → 503 with Retry-After and its message; a bug stays "internal error"', async () => {
    await start()
    view.throwOn = 'runPayouts'
    view.error = new PoolError(ErrorCode.RPC_TIMEOUT, 'sendTransaction: timed out')
    const t = await post('/api/payouts/run')
    expect(t.status).toBe(503)
    expect(t.headers.get('retry-after')).toBe('1')
    expect(t.json).toEqual({ error: 'POST /api/payouts/run failed: sendTransaction: timed out', code: 'RPC_TIMEOUT' })
    view.error = new Error('boom postgres://pool:hunter2@db/x')
    const b = await post('/api/payouts/run')
    expect(b.status).toBe(500)
    expect(b.json).toEqual({ error: 'internal error' })
  })

  it('a failure after the 202 frees the turn', async () => {
    await start({ adminTimeoutMs: 100 })
    view.delayMs = 300
    view.throwOn = 'addFarmers 1 5'
    view.error = new PoolError(ErrorCode.FUNDING_FAILED, 'friendbot could not fund: timed out')
    expect((await post('/api/farmers', { count: 1 })).status).toBe(202)
    await view.settled()
    view.delayMs = 0
    view.throwOn = null
    expect((await post('/api/farmers', { count: 1 })).status).toBe(201)
  })
})
