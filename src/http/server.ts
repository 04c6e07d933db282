// The pool's HTTP server (node:http, no framework): /metrics, /health, the JSON
// API and the admin API. It knows no SQL or RPC: everything comes from a
// PoolView. Every request is bounded: header size and count, body bytes (413),
// time to receive the request, time the view may take (503), connections,
// view calls running at once (503 + Retry-After), requests pipelined on one
// connection (answered one at a time; past the bound 503 and the connection
// closes), and time an answer may go without progress towards the client (the
// connection is closed).
//
// Admin routes (POST /api/farmers, /api/farmers/:key/disable, /api/payouts/run)
// answer 403 "admin API disabled" when ADMIN_TOKEN is not set, and 401 without
// the right `Authorization: Bearer` token. They run one at a time (409 while
// another runs); one that outlasts its timeout goes on and is answered 202.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { scrubString, type Logger } from '../log.js'
import type { Metrics, HttpRoute } from '../metrics/metrics.js'
import { isPoolError, ErrorCode, type PoolError } from '../errors.js'
import type { PoolView } from './view.js'
import { matchRoute, type Route } from './routes.js'
import { adminGate } from './auth.js'
import { renderStatusPage } from './status-page.js'
import { stringify } from './json.js'
import { InFlightCap, boundedView, coalesced } from './limits.js'
import { within, TIMED_OUT } from '../deadline.js'
import { PipelineQueues, watchWriteStalls } from './sockets.js'
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
  /** an admin route's view call (registers accounts, sends payouts); then 202, and it goes on */
  adminTimeoutMs?: number
  connectionsMax?: number
  /** public view calls running at once (HTTP_VIEWS_IN_FLIGHT_MAX); one more answers 503 + Retry-After. /health, /api/pool and the status page are coalesced instead */
  viewsInFlightMax?: number
  /** /health, /api/pool and the status page: one computation shared, its result reused this long */
  viewCacheMs?: number
  /** requests of one connection waiting or running; one more answers 503 and the connection closes */
  pipelineDepthMax?: number
  /** a connection whose answers have made no progress this long is closed (HTTP_WRITE_STALL_SECONDS) */
  writeStallMs?: number
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
/** HTTP_VIEWS_IN_FLIGHT_MAX's default: the embedded database has one connection, shared with the share flush. */
const VIEWS_IN_FLIGHT_MAX = 8
/** Long enough that a flood of /health costs one probe round a second; short enough to stay live. */
const VIEW_CACHE_MS = 1_000
/** Browsers do not pipeline; a client that does gets this many requests in the queue. */
const PIPELINE_DEPTH_MAX = 8
/** HTTP_WRITE_STALL_SECONDS's default, in ms. */
const WRITE_STALL_MS = 30_000
const HEADER_BYTES_MAX = 16 * 1024
const HEADERS_COUNT_MAX = 64
const KEEP_ALIVE_MS = 5_000
const RETRY_AFTER = { 'retry-after': '1' }

/**
 * Admin failures by PoolError code: the status, and what the operator needs to
 * know beyond the message. Other codes: 503 when transient, else 500. The
 * message is scrubbed like the logs; the answer goes to the token holder only.
 */
const ADMIN_FAILURES: Partial<Record<ErrorCode, { status: number; hint?: string }>> = {
  [ErrorCode.FUNDING_FAILED]: { status: 502, hint: 'the accounts are stored and the next start retries funding them; a retry now creates new ones' },
  [ErrorCode.TX_FAILED]: { status: 502 },
  [ErrorCode.TX_REJECTED]: { status: 502 },
  [ErrorCode.SIMULATION_FAILED]: { status: 502 },
  [ErrorCode.CONTRACT_ERROR]: { status: 502 },
}
/** Said of an admin operation still running when its answer (202) goes out. */
const RUNNING_HINTS: Partial<Record<string, string>> = {
  'POST /api/farmers': 'GET /api/farmers lists the accounts stored so far',
}

const JSON_TYPE = 'application/json; charset=utf-8'
/** node:http's test for an Expect it fulfils itself (100 Continue); any other Expect is answered 417. */
const CONTINUE_RE = /(?:^|\W)100-continue(?:$|\W)/i

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
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}, readonly code?: string) {
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
    viewsInFlightMax: VIEWS_IN_FLIGHT_MAX,
    viewCacheMs: VIEW_CACHE_MS,
    pipelineDepthMax: PIPELINE_DEPTH_MAX,
    writeStallMs: WRITE_STALL_MS,
    stakePercentDefault: 0,
    ...opts,
  }
  const gate = adminGate(o.adminToken)
  const cap = new InFlightCap(o.viewsInFlightMax, () => new HttpFailure(503, `busy: ${o.viewsInFlightMax} API requests are being answered (HTTP_VIEWS_IN_FLIGHT_MAX); retry shortly`, RETRY_AFTER, ErrorCode.BUSY))
  const view = boundedView(o.view, cap, o.viewCacheMs)
  // Coalesced like /health and /api/pool, and out of the cap like them: with those
  // two, at most 3 view calls run beside the cap's HTTP_VIEWS_IN_FLIGHT_MAX.
  const statusData = coalesced(() => Promise.all([view.pool(), o.view.blocks(STATUS_BLOCKS)]), o.viewCacheMs)
  const pipeline = new PipelineQueues(o.pipelineDepthMax)
  /** the admin operation running (they run one at a time), until it really ends */
  let adminRunning: { what: string; startedMs: number } | undefined
  const server = http.createServer({
    maxHeaderSize: HEADER_BYTES_MAX,
    requestTimeout: o.requestTimeoutMs,
    headersTimeout: Math.min(o.requestTimeoutMs, 60_000),
    // Node checks those timeouts on this one coarse timer (default 30 s: a slow drip would live that long).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(o.requestTimeoutMs / 4))),
    // node:http would answer an HTTP/1.1 request without Host 400 with an empty body; handle() answers it with JSON like every error.
    requireHostHeader: false,
  })
  server.maxHeadersCount = HEADERS_COUNT_MAX
  server.maxConnections = o.connectionsMax
  server.keepAliveTimeout = KEEP_ALIVE_MS
  const stopStallWatch = watchWriteStalls(server, o.writeStallMs, (socket) => o.logger.debug({ remote: socket.remoteAddress }, 'http: answers not read: connection closed'))
  server.on('request', onRequest)
  // Without this listener node:http answers an Expect other than 100-continue 417 with an empty body; handle() answers it with JSON.
  server.on('checkExpectation', onRequest)
  server.on('clientError', (err, socket) => {
    // Malformed request line/headers, header overflow, request timeout: answer if we still can.
    const code = (err as NodeJS.ErrnoException).code
    const [status, message] =
      code === 'HPE_HEADER_OVERFLOW' ? [431, `request headers larger than ${HEADER_BYTES_MAX} bytes`]
      : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, `request not received within ${o.requestTimeoutMs} ms`]
      : [400, 'malformed HTTP request']
    // An answer still owed on this connection (being written, running, or queued behind it) would
    // come after ours, and the client would take this error for its earlier request's answer.
    if (!socket.writable || pipeline.owesAnswers(socket as Socket)) return void socket.destroy()
    const body = stringify({ error: message })
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  })

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const started = process.hrtime.bigint()
    let route: HttpRoute = 'unmatched'
    const count = (): void => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      o.metrics.httpRequestsTotal.labels(route, String(res.statusCode)).inc()
      o.metrics.httpRequestSeconds.labels(route).observe(seconds)
    }
    const serve = (): Promise<void> => {
      // The connection was closed while this request waited its turn: nobody would read the answer.
      if (req.socket.destroyed) return Promise.resolve()
      return handle(req, res, (r) => (route = r)).catch((err: unknown) => fail(res, err)).finally(count)
    }
    if (pipeline.run(req.socket, serve)) return
    // node:http parses every pipelined request at once: past the bound, answer busy and end the connection
    // after this answer (the queue refuses the connection's later requests without running them).
    route = routeLabel(req)
    res.setHeader('connection', 'close')
    fail(res, new HttpFailure(503, `busy: more than ${o.pipelineDepthMax} requests pipelined on one connection; send one at a time`, RETRY_AFTER, ErrorCode.BUSY))
    count()
  }

  async function handle(req: IncomingMessage, res: ServerResponse, setRoute: (r: HttpRoute) => void): Promise<void> {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://localhost')
    } catch {
      throw new HttpFailure(400, 'malformed request target')
    }
    // node:http leaves these two to us (requireHostHeader: false, the checkExpectation listener).
    if (req.httpVersion === '1.1' && req.headers.host === undefined) throw new HttpFailure(400, 'an HTTP/1.1 request needs a Host header')
    if (req.httpVersion === '1.1' && req.headers.expect !== undefined && !CONTINUE_RE.test(req.headers.expect)) {
      throw new HttpFailure(417, 'Expect: only 100-continue is supported')
    }
    const m = matchRoute(req.method ?? 'GET', url.pathname)
    if (m.kind === 'bad') throw new HttpFailure(400, m.message)
    if (m.kind === 'none') throw new HttpFailure(404, 'not found')
    if (m.kind === 'method') {
      setRoute(m.pattern)
      throw new HttpFailure(405, `method ${String(req.method).slice(0, 16)} not allowed`, { allow: [...m.allow, ...(m.allow.includes('GET') ? ['HEAD'] : [])].join(', ') })
    }
    setRoute(m.route.pattern)
    if (m.route.admin) return runAdmin(req, res, m.route, context(url, m.params))
    if (m.route.pattern === '/metrics') return sendMetrics(req, res)
    if (m.route.pattern === '/') return sendStatusPage(req, res)
    const reply = await within(HANDLERS[`${m.route.method} ${m.route.pattern}`]!(context(url, m.params)), o.viewTimeoutMs)
    if (reply === TIMED_OUT) throw timedOut(m.route, o.viewTimeoutMs)
    sendJson(req, res, reply.status, reply.body)
  }

  function context(url: URL, params: Record<string, string>): h.HandlerContext {
    return { view, query: url.searchParams, params, body: undefined, stakePercentDefault: o.stakePercentDefault }
  }

  /**
   * One admin operation at a time: a second one (a retry of a farmer creation
   * whose answer timed out, say) would run beside it and, for POST /api/farmers,
   * create another batch. The turn is held until the operation really ends.
   */
  async function runAdmin(req: IncomingMessage, res: ServerResponse, route: Route, ctx: h.HandlerContext): Promise<void> {
    checkAdmin(req)
    const what = `${route.method} ${route.pattern}`
    if (adminRunning !== undefined) {
      const seconds = Math.round((Date.now() - adminRunning.startedMs) / 1000)
      throw new HttpFailure(409, `${adminRunning.what} is still running (for ${seconds} s); admin operations run one at a time`)
    }
    const turn = { what, startedMs: Date.now() }
    adminRunning = turn
    let op: Promise<h.Reply>
    try {
      op = HANDLERS[what]!({ ...ctx, body: await readJsonBody(req, o.bodyBytesMax) })
    } catch (err) {
      adminRunning = undefined
      throw err
    }
    const release = (): void => {
      if (adminRunning === turn) adminRunning = undefined
    }
    op.then(release, release)
    let reply: h.Reply | typeof TIMED_OUT
    try {
      reply = await within(op, o.adminTimeoutMs)
    } catch (err) {
      throw adminFailure(what, err)
    }
    if (reply !== TIMED_OUT) return sendJson(req, res, reply.status, reply.body)
    op.then(
      () => o.logger.info({ what, seconds: Math.round((Date.now() - turn.startedMs) / 1000) }, 'http: admin operation finished after its answer timed out'),
      (err: unknown) => o.logger.warn({ err, what }, 'http: admin operation failed after its answer timed out'),
    )
    const hint = RUNNING_HINTS[what]
    sendJson(req, res, 202, {
      status: 'running',
      message: `${what} is still running after ${o.adminTimeoutMs} ms and goes on; admin requests answer 409 until it ends and the log reports how it ended${hint ? `; ${hint}` : ''}`,
    })
  }

  /** An admin operation's PoolError as the operator should see it: its code and scrubbed message. A bug stays "internal error". */
  function adminFailure(what: string, err: unknown): unknown {
    if (!isPoolError(err) || err.code === ErrorCode.ARGUMENT_INVALID || err.code === ErrorCode.NOT_FOUND) return err
    o.logger.warn({ err, what }, 'http: admin operation failed')
    const known = ADMIN_FAILURES[err.code]
    const status = known?.status ?? (isBusy(err) ? 503 : 500)
    const hint = known?.hint ? ` (${known.hint})` : ''
    return new HttpFailure(status, `${what} failed: ${scrubString(err.message)}${hint}`, status === 503 ? RETRY_AFTER : {}, err.code)
  }

  function checkAdmin(req: IncomingMessage): void {
    const d = gate(req.headers.authorization)
    if (d === 'disabled') throw new HttpFailure(403, 'admin API disabled: ADMIN_TOKEN is not set')
    if (d === 'unauthorized') throw new HttpFailure(401, 'admin API needs Authorization: Bearer <ADMIN_TOKEN>', { 'www-authenticate': 'Bearer realm="kale-pool admin"' })
  }

  async function sendStatusPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const data = await within(statusData(), o.viewTimeoutMs)
    if (data === TIMED_OUT) throw timedOut({ pattern: '/' }, o.viewTimeoutMs)
    const [pool, blocks] = data
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
      return sendJson(req, res, err.status, err.code === undefined ? { error: err.message } : { error: err.message, code: err.code })
    }
    if (isPoolError(err, ErrorCode.ARGUMENT_INVALID)) return sendJson(req, res, 400, { error: err.message })
    if (isPoolError(err, ErrorCode.NOT_FOUND)) return sendJson(req, res, 404, { error: err.message })
    if (isPoolError(err) && isBusy(err)) {
      o.logger.warn({ err, url: req.url }, 'http: pool part unavailable')
      res.setHeader('retry-after', RETRY_AFTER['retry-after'])
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
        stopStallWatch()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** The view call goes on (and keeps its slot under HTTP_VIEWS_IN_FLIGHT_MAX); the client is told to come back. */
function timedOut(route: Pick<Route, 'pattern'>, ms: number): HttpFailure {
  return new HttpFailure(503, `${route.pattern} timed out after ${ms} ms`, RETRY_AFTER)
}

function isBusy(err: PoolError): boolean {
  return err.transient || err.code === ErrorCode.BUSY
}

/** The route label of a request answered before it is handled (never the raw path). */
function routeLabel(req: IncomingMessage): HttpRoute {
  try {
    const m = matchRoute(req.method ?? 'GET', new URL(req.url ?? '/', 'http://localhost').pathname)
    return m.kind === 'match' ? m.route.pattern : m.kind === 'method' ? m.pattern : 'unmatched'
  } catch {
    return 'unmatched'
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
