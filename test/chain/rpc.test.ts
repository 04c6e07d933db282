import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RpcClient, normalizeRpcError, isRetryable, backoffMs, latestLedger } from '../../src/chain/rpc.js'
import { PoolError, ErrorCode } from '../../src/errors.js'
import { createMetrics } from '../../src/metrics/metrics.js'

type Mode = 'ok' | '503' | 'jsonrpc' | 'badparams' | 'hang' | 'garbage' | 'flaky' | '404'
let mode: Mode = 'ok'
let hits = 0
const hanging: ServerResponse[] = []
let server: Server
let url = ''

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++
    req.resume()
    req.on('end', () => {
      const json = (body: unknown, status = 200) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      const ok = () => json({ jsonrpc: '2.0', id: 1, result: { status: 'healthy', latestLedger: 7, oldestLedger: 1, ledgerRetentionWindow: 10 } })
      switch (mode) {
        case 'ok': return ok()
        case '503': return json({ error: 'unavailable' }, 503)
        case '404': return json({ error: 'nope' }, 404)
        case 'jsonrpc': return json({ jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'internal: database locked' } })
        case 'badparams': return json({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'invalid params' } })
        case 'hang': hanging.push(res); return
        case 'garbage': res.writeHead(200, { 'content-type': 'text/plain' }); return res.end('<<not json>>')
        case 'flaky': return hits % 3 === 0 ? ok() : json({ error: 'x' }, 503)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
})

afterAll(async () => {
  for (const r of hanging) r.destroy()
  server.closeAllConnections()
  await new Promise<void>((r) => server.close(() => r()))
})

const client = (retriesMax = 0, timeoutMs = 300, metrics?: ReturnType<typeof createMetrics>) =>
  new RpcClient(url, { timeoutMs, retriesMax, backoffMs: 5, backoffMsMax: 20, metrics })

async function failure(p: Promise<unknown>): Promise<PoolError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(PoolError)
    return e as PoolError
  }
  throw new Error('expected a failure')
}

describe('RpcClient against a real HTTP server', () => {
  it('returns the result when the server is healthy', async () => {
    mode = 'ok'
    const h = await client().call('getHealth', (s) => s.getHealth())
    expect(h.status).toBe('healthy')
  })

  it('turns HTTP 503 into RPC_HTTP with the status, transient', async () => {
    mode = '503'
    const err = await failure(client().call('getHealth', (s) => s.getHealth()))
    expect(err.code).toBe(ErrorCode.RPC_HTTP)
    expect(err.details.status).toBe(503)
    expect(err.transient).toBe(true)
    expect(err.message).toBe('getHealth: HTTP 503')
  })

  it('turns HTTP 404 into a non-retryable RPC_HTTP', async () => {
    mode = '404'
    const err = await failure(client(3).call('getHealth', (s) => s.getHealth()))
    expect(err.code).toBe(ErrorCode.RPC_HTTP)
    expect(isRetryable(err)).toBe(false)
  })

  it('turns a JSON-RPC error object into RPC_JSON with its code', async () => {
    mode = 'jsonrpc'
    const err = await failure(client().call('getHealth', (s) => s.getHealth()))
    expect(err.code).toBe(ErrorCode.RPC_JSON)
    expect(err.details.rpcCode).toBe(-32603)
    expect(err.message).toContain('database locked')
    expect(isRetryable(err)).toBe(true)
  })

  it('does not retry a request the server calls invalid', async () => {
    mode = 'badparams'
    hits = 0
    const err = await failure(client(4).call('getHealth', (s) => s.getHealth()))
    expect(err.details.rpcCode).toBe(-32602)
    expect(hits).toBe(1)
  })

  it('times out a hanging server within the configured timeout', async () => {
    mode = 'hang'
    const t0 = Date.now()
    const err = await failure(client(0, 200).call('getHealth', (s) => s.getHealth()))
    expect(err.code).toBe(ErrorCode.RPC_TIMEOUT)
    expect(Date.now() - t0).toBeLessThan(1500)
  })

  it('calls garbage a retryable invalid response', async () => {
    mode = 'garbage'
    const err = await failure(client().call('getHealth', async (s) => {
      const h = await s.getHealth()
      if (typeof h?.status !== 'string') throw new TypeError('bad shape')
      return h
    }))
    expect(err.code).toBe(ErrorCode.RPC_RESPONSE_INVALID)
    expect(isRetryable(err)).toBe(true)
  })

  it('retries transient failures with backoff and succeeds, counting each failure', async () => {
    mode = 'flaky'
    hits = 0
    const metrics = createMetrics()
    const h = await client(4, 300, metrics).call('getHealth', (s) => s.getHealth())
    expect(h.status).toBe('healthy')
    expect(hits).toBe(3)
    const m = await metrics.rpcErrorsTotal.get()
    expect(m.values.find((v) => v.labels.code === 'RPC_HTTP')?.value).toBe(2)
  })

  it('gives up after RPC_RETRIES_MAX retries', async () => {
    mode = '503'
    hits = 0
    await failure(client(2).call('getHealth', (s) => s.getHealth()))
    expect(hits).toBe(3)
  })

  it('remembers what a fault cost: a hang costs about the timeout, a healthy call nothing', async () => {
    const c = client(1, 200)
    mode = 'ok'
    await c.call('getHealth', (s) => s.getHealth())
    expect(c.recentFaultCostMs(60_000)).toBe(0)
    mode = 'hang'
    await failure(c.call('getHealth', (s) => s.getHealth()))
    const cost = c.recentFaultCostMs(60_000)
    expect(cost).toBeGreaterThanOrEqual(190)
    expect(cost).toBeLessThan(1500)
    // forgotten once outside the window
    expect(c.recentFaultCostMs(60_000, Date.now() + 61_000)).toBe(0)
    mode = 'ok'
  })

  it('reports a refused connection as RPC_NETWORK', async () => {
    const dead = new RpcClient('http://127.0.0.1:1/', { timeoutMs: 500, retriesMax: 0 })
    const err = await failure(dead.call('getHealth', (s) => s.getHealth()))
    expect(err.code).toBe(ErrorCode.RPC_NETWORK)
    expect(err.transient).toBe(true)
  })
})

describe('RpcClient.raw (node:http, unparsed answers)', () => {
  it('returns the raw result object', async () => {
    mode = 'ok'
    const r = await client().raw<{ status: string; latestLedger: number }>('getHealth', {})
    expect(r).toEqual({ status: 'healthy', latestLedger: 7, oldestLedger: 1, ledgerRetentionWindow: 10 })
  })

  it('turns HTTP 503 into transient RPC_HTTP and 404 into a permanent one', async () => {
    mode = '503'
    const e503 = await failure(client().raw('getHealth', {}))
    expect(e503.code).toBe(ErrorCode.RPC_HTTP)
    expect(e503.details.status).toBe(503)
    expect(e503.transient).toBe(true)
    expect(e503.message).toBe('getHealth: HTTP 503')
    mode = '404'
    const before = hits
    const e404 = await failure(client(3).raw('getHealth', {}))
    expect(e404.details.status).toBe(404)
    expect(hits - before).toBe(1)
  })

  it('turns a JSON-RPC error into RPC_JSON (retried unless the request is invalid)', async () => {
    mode = 'jsonrpc'
    let before = hits
    const err = await failure(client(2).raw('sendTransaction', { transaction: 'AAAA' }))
    expect(err.code).toBe(ErrorCode.RPC_JSON)
    expect(err.details.rpcCode).toBe(-32603)
    expect(hits - before).toBe(3)
    mode = 'badparams'
    before = hits
    const bad = await failure(client(2).raw('sendTransaction', { transaction: 'AAAA' }))
    expect(bad.details.rpcCode).toBe(-32602)
    expect(hits - before).toBe(1)
  })

  it('rejects a garbled answer as RPC_RESPONSE_INVALID', async () => {
    mode = 'garbage'
    const err = await failure(client().raw('getHealth', {}))
    expect(err.code).toBe(ErrorCode.RPC_RESPONSE_INVALID)
    expect(err.message).toBe('getHealth: answer is not JSON')
  })

  it('times out a hanging server as RPC_TIMEOUT and does not retry when told not to', async () => {
    mode = 'hang'
    const before = hits
    const t0 = Date.now()
    const err = await failure(client(3, 200).raw('sendTransaction', {}, false))
    expect(err.code).toBe(ErrorCode.RPC_TIMEOUT)
    expect(Date.now() - t0).toBeLessThan(1500)
    expect(hits - before).toBe(1)
  })

  it('recovers from a flaky server within its retries', async () => {
    mode = 'flaky'
    const r = await client(5).raw<{ status: string }>('getHealth', {})
    expect(r.status).toBe('healthy')
  })

  it('reports a refused connection as RPC_NETWORK', async () => {
    const c = new RpcClient('http://127.0.0.1:1/', { timeoutMs: 500, retriesMax: 0 })
    const err = await failure(c.raw('getHealth', {}))
    expect(err.code).toBe(ErrorCode.RPC_NETWORK)
  })
})

describe('normalizeRpcError', () => {
  it('handles odd thrown values', () => {
    expect(normalizeRpcError('boom', 'm').code).toBe(ErrorCode.RPC_RESPONSE_INVALID)
    expect(normalizeRpcError(null, 'm').code).toBe(ErrorCode.RPC_RESPONSE_INVALID)
    expect(normalizeRpcError({ message: 'no code' }, 'm').code).toBe(ErrorCode.RPC_RESPONSE_INVALID)
    const long = normalizeRpcError({ code: -1, message: 'x'.repeat(5000) }, 'm')
    expect(long.message.length).toBeLessThan(300)
  })
  it('passes a PoolError through', () => {
    const e = new PoolError(ErrorCode.TX_FAILED, 'x')
    expect(normalizeRpcError(e, 'm')).toBe(e)
  })
})

describe('backoffMs', () => {
  it('is bounded by base·2^attempt and by the max', () => {
    expect(backoffMs(0, 100, 2000, () => 0.999)).toBe(99)
    expect(backoffMs(3, 100, 2000, () => 0.999)).toBe(799)
    expect(backoffMs(10, 100, 2000, () => 0.999)).toBe(1998)
    expect(backoffMs(5, 100, 2000, () => 0)).toBe(0)
  })
})

// Regression (review finding 2, "silent total loss"): an RPC older than v25
// leaves closeTime out of getLatestLedger; Number(undefined) = NaN made every
// deadline comparison false. latestLedger() falls back or throws, never NaN.
describe('latestLedger: close time never NaN', () => {
  type Answers = Record<string, (params: Record<string, unknown>) => unknown>
  let answers: Answers = {}
  let fake: Server
  let fakeUrl = ''

  beforeAll(async () => {
    fake = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const { method, params } = JSON.parse(Buffer.concat(chunks).toString()) as { method: string; params: Record<string, unknown> }
        const f = answers[method]
        const body = f ? { jsonrpc: '2.0', id: 1, result: f(params) } : { jsonrpc: '2.0', id: 1, error: { code: -32601, message: `method not found: ${method}` } }
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      })
    })
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r))
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/`
  })
  afterAll(async () => {
    fake.closeAllConnections()
    await new Promise<void>((r) => fake.close(() => r()))
  })
  const rpc = () => new RpcClient(fakeUrl, { timeoutMs: 300, retriesMax: 0 })
  const v24 = { getLatestLedger: () => ({ id: 'ab', sequence: 100, protocolVersion: 22 }) }

  it('takes closeTime from getLatestLedger when present (v25+)', async () => {
    answers = { getLatestLedger: () => ({ id: 'ab', sequence: 100, protocolVersion: 23, closeTime: '1700000500' }) }
    expect(await latestLedger(rpc())).toEqual({ sequence: 100, closeTime: 1_700_000_500 })
  })

  it('without closeTime, takes the close time of that ledger from getLedgers', async () => {
    answers = { ...v24, getLedgers: (p) => ({ ledgers: [{ sequence: p.startLedger, ledgerCloseTime: '1700000400' }], latestLedger: 100, latestLedgerCloseTime: 1_700_000_400 }) }
    expect(await latestLedger(rpc())).toEqual({ sequence: 100, closeTime: 1_700_000_400 })
  })

  it('without closeTime and getLedgers, takes latestLedgerCloseTime of a getTransaction answer', async () => {
    answers = { ...v24, getTransaction: () => ({ status: 'NOT_FOUND', latestLedger: 101, latestLedgerCloseTime: '1700000405', oldestLedger: 1, oldestLedgerCloseTime: '1699990000' }) }
    expect(await latestLedger(rpc())).toEqual({ sequence: 101, closeTime: 1_700_000_405 })
  })

  it('throws a clear RPC_RESPONSE_INVALID when no answer has a close time', async () => {
    answers = { ...v24, getTransaction: () => ({ status: 'NOT_FOUND', latestLedger: 100 }) }
    const err = await failure(latestLedger(rpc()))
    expect(err.code).toBe(ErrorCode.RPC_RESPONSE_INVALID)
    expect(err.message).toMatch(/no close time/)
    answers = { getLatestLedger: () => ({ id: 'ab', sequence: 100, protocolVersion: 22, closeTime: 'soon' }) }
    expect((await failure(latestLedger(rpc()))).message).toMatch(/no close time/)
  })
})
