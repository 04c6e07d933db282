// The pool's HTTP server (node:http, no framework): /metrics, /health, the JSON
// API and the admin API. It knows no SQL or RPC: everything comes from a
// PoolView. Every request is bounded: header size and count, body bytes (413),
// time to receive the request, time the view may take (503), connections.
//
// Admin routes (POST /api/farmers, /api/farmers/:key/disable, /api/payouts/run)
// answer 403 "admin API disabled" when ADMIN_TOKEN is not set, and 401 without
// the right `Authorization: Bearer` token.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../log.js'
import type { Metrics, HttpRoute } from '../metrics/metrics.js'
import { isPoolError, ErrorCode } from '../errors.js'
import type { PoolView } from './view.js'
import { matchRoute, type Route } from './routes.js'
import { adminGate } from './auth.js'
import { renderStatusPage } from './status-page.js'
import { stringify } from './json.js'
import * as h from './handlers.js'

export interface HttpServerOptions {
  host: string
  port: number
  view: PoolView
  metrics: Metrics
  logger: Logger
  /** undefined: the admin API is disabled (403) */
  adminToken?: string
  /** default stakePercent of POST /api/farmers (STAKE_PERCENT) */
  stakePercentDefault?: number
  bodyBytesMax?: number
  /** receiving one request (headers + body) at most this long */
  requestTimeoutMs?: number
  /** a public route's view call at most this long, then 503 */
  viewTimeoutMs?: number
  /** an admin route's view call (registers accounts, sends payouts) */
  adminTimeoutMs?: number
  connectionsMax?: number
}

export interface HttpServer {
  /** http://host:port, with the port actually bound */
  url: string
  port: number
  close(): Promise<void>
}

export const BODY_BYTES_MAX = 64 * 1024
/** Recent blocks shown on the status page. */
const STATUS_BLOCKS = 10
const REQUEST_TIMEOUT_MS = 10_000
const VIEW_TIMEOUT_MS = 5_000
const ADMIN_TIMEOUT_MS = 120_000
const CONNECTIONS_MAX = 1_000
const HEADER_BYTES_MAX = 16 * 1024
const HEADERS_COUNT_MAX = 64
const KEEP_ALIVE_MS = 5_000

const JSON_TYPE = 'application/json; charset=utf-8'

type Handler = (c: h.HandlerContext) => Promise<h.Reply>
const HANDLERS: Record<string, Handler> = {
  'GET /health': h.health,
  'GET /api/pool': h.pool,
  'GET /api/blocks': h.blocks,
  'GET /api/miners/:address': h.miner,
  'GET /api/farmers': h.farmers,
  'POST /api/farmers': h.addFarmers,
  'POST /api/farmers/:key/disable': h.disableFarmer,
  'POST /api/payouts/run': h.runPayouts,
}

/** Thrown inside the server for answers decided before a handler runs. */
class HttpFailure extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
  }
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const o = {
    bodyBytesMax: BODY_BYTES_MAX,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    viewTimeoutMs: VIEW_TIMEOUT_MS,
    adminTimeoutMs: ADMIN_TIMEOUT_MS,
    connectionsMax: CONNECTIONS_MAX,
    stakePercentDefault: 0,
    ...opts,
  }
  const gate = adminGate(o.adminToken)
  const server = http.createServer({
    maxHeaderSize: HEADER_BYTES_MAX,
    requestTimeout: o.requestTimeoutMs,
    headersTimeout: Math.min(o.requestTimeoutMs, 60_000),
    // Node checks those timeouts on this one coarse timer (default 30 s: a slow drip would live that long).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(o.requestTimeoutMs / 4))),
  })
  server.maxHeadersCount = HEADERS_COUNT_MAX
  server.maxConnections = o.connectionsMax
  server.keepAliveTimeout = KEEP_ALIVE_MS
  server.on('request', (req, res) => {
    const started = process.hrtime.bigint()
    let route: HttpRoute = 'unmatched'
    handle(req, res, (r) => (route = r))
      .catch((err: unknown) => fail(res, err))
      .finally(() => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        o.metrics.httpRequestsTotal.labels(route, String(res.statusCode)).inc()
        o.metrics.httpRequestSeconds.labels(route).observe(seconds)
      })
  })
  server.on('clientError', (err, socket) => {
    // Malformed request line/headers, header overflow, request timeout: answer if we still can.
    const code = (err as NodeJS.ErrnoException).code
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    if (socket.writable) socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    else socket.destroy()
  })

  async function handle(req: IncomingMessage, res: ServerResponse, setRoute: (r: HttpRoute) => void): Promise<void> {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://localhost')
    } catch {
      throw new HttpFailure(400, 'malformed request target')
    }
    const m = matchRoute(req.method ?? 'GET', url.pathname)
    if (m.kind === 'bad') throw new HttpFailure(400, m.message)
    if (m.kind === 'none') throw new HttpFailure(404, 'not found')
    if (m.kind === 'method') {
      setRoute(m.pattern)
      throw new HttpFailure(405, `method ${String(req.method).slice(0, 16)} not allowed`, { allow: [...m.allow, ...(m.allow.includes('GET') ? ['HEAD'] : [])].join(', ') })
    }
    setRoute(m.route.pattern)
    if (m.route.admin) checkAdmin(req)
    if (m.route.pattern === '/metrics') return sendMetrics(req, res)
    if (m.route.pattern === '/') return sendStatusPage(req, res, m.route)
    const body = m.route.method === 'POST' ? await readJsonBody(req, o.bodyBytesMax) : undefined
    const handler = HANDLERS[`${m.route.method} ${m.route.pattern}`]!
    const ctx: h.HandlerContext = { view: o.view, query: url.searchParams, params: m.params, body, stakePercentDefault: o.stakePercentDefault }
    const reply = await withTimeout(handler(ctx), m.route.admin ? o.adminTimeoutMs : o.viewTimeoutMs, m.route)
    sendJson(req, res, reply.status, reply.body)
  }

  function checkAdmin(req: IncomingMessage): void {
    const d = gate(req.headers.authorization)
    if (d === 'disabled') throw new HttpFailure(403, 'admin API disabled: ADMIN_TOKEN is not set')
    if (d === 'unauthorized') throw new HttpFailure(401, 'admin API needs Authorization: Bearer <ADMIN_TOKEN>', { 'www-authenticate': 'Bearer realm="kale-pool admin"' })
  }

  async function sendStatusPage(req: IncomingMessage, res: ServerResponse, route: Route): Promise<void> {
    const [pool, blocks] = await withTimeout(Promise.all([o.view.pool(), o.view.blocks(STATUS_BLOCKS)]), o.viewTimeoutMs, route)
    res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    send(req, res, 200, 'text/html; charset=utf-8', renderStatusPage(pool, blocks))
  }

  async function sendMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await o.metrics.registry.metrics()
    send(req, res, 200, o.metrics.registry.contentType, text)
  }

  function fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy()
      return
    }
    const req = res.req
    if (err instanceof HttpFailure) {
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v)
      // After a refused body the connection is not reusable: close it.
      if (err.status === 413) res.setHeader('connection', 'close')
      return sendJson(req, res, err.status, { error: err.message })
    }
    if (isPoolError(err, ErrorCode.ARGUMENT_INVALID)) return sendJson(req, res, 400, { error: err.message })
    if (isPoolError(err, ErrorCode.NOT_FOUND)) return sendJson(req, res, 404, { error: err.message })
    if (isPoolError(err) && (err.transient || err.code === ErrorCode.BUSY)) {
      o.logger.warn({ err, url: req.url }, 'http: pool part unavailable')
      return sendJson(req, res, 503, { error: 'temporarily unavailable', code: err.code })
    }
    o.logger.error({ err, url: req.url }, 'http: request failed')
    // Internal details stay in the log, not in the answer.
    sendJson(req, res, 500, { error: 'internal error' })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, route: Route): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpFailure(503, `${route.pattern} timed out after ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The request body as JSON: empty → undefined; over `bytesMax` → 413; not JSON → 400/415. */
async function readJsonBody(req: IncomingMessage, bytesMax: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > bytesMax) throw new HttpFailure(413, `body larger than ${bytesMax} bytes`)
  const chunks: Buffer[] = []
  let bytes = 0
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      bytes += chunk.length
      if (bytes > bytesMax) throw new HttpFailure(413, `body larger than ${bytesMax} bytes`)
      chunks.push(chunk)
    }
  } catch (err) {
    // The client went away mid-body (ECONNRESET, aborted): its fault, not a server error.
    if (err instanceof HttpFailure) throw err
    throw new HttpFailure(400, 'request body ended early')
  }
  if (bytes === 0) return undefined
  const type = String(req.headers['content-type'] ?? '')
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpFailure(415, 'body must be application/json')
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpFailure(400, 'body is not valid JSON')
  }
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  send(req, res, status, JSON_TYPE, stringify(body))
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, text: string): void {
  const bytes = Buffer.from(text, 'utf8')
  res.statusCode = status
  res.setHeader('content-type', type)
  res.setHeader('content-length', bytes.length)
  res.setHeader('cache-control', 'no-store')
  res.setHeader('x-content-type-options', 'nosniff')
  res.end(req.method === 'HEAD' ? undefined : bytes)
}
