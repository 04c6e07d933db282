// KALE Stratum client library: the protocol's reference client (PROTOCOL.md),
// used by `kale-pool mine` and the tests. connect → subscribe (resuming the
// sessionId after a drop) → authorize; jobs arrive as events carrying the
// difficulty in force when they were sent.
//
// Events: 'connected'; 'disconnect' (reason, delayMs) when an authorized
// connection is lost (a reconnect follows after delayMs; undefined: none);
// 'connectFailed' (err, delayMs, url) when an automatic reconnect attempt at url
// fails; 'fatal' (err) when the pool refuses the username (error 24:
// reconnecting cannot help, the client stops); 'job', 'difficulty', 'message',
// 'reconnectRequested'; 'protocolError' (reason).
//
// The pool's lines are untrusted (messages.ts checks each). A bad notification
// is ignored and reported as 'protocolError' — the miner keeps its current job;
// a malformed answer fails its request (a submit counts as lost); a malformed
// subscribe or authorize answer fails the connection attempt, which is retried
// with backoff. An overlong line, or PROTOCOL_ERRORS_PER_CONNECTION_MAX bad
// lines on one connection, closes it (then reconnect, resuming the session).
//
// Liveness: the TCP connect and TLS handshake together are bounded by
// connectTimeoutMs; TCP keep-alive finds a peer that vanished. The pool answers
// requests in order, so one request unanswered for requestTimeoutMs means it is
// gone or stuck: the connection is closed and reopened.
//
// One connection at a time: each socket has its own read buffer and requests,
// and one reconnect timer exists at most, cancelled by connect() and close().
// When and where to reconnect (backoff, a client.reconnect's wait and target)
// is reconnect.ts's decision.
import net from 'node:net'
import tls from 'node:tls'
import { EventEmitter } from 'node:events'
import { PoolError, ErrorCode, isPoolError } from '../errors.js'
import { isAccountId } from '../kale/strkey.js'
import { WORKER_RE } from '../stratum/protocol.js'
import { parseServerLine, parseSubscribeResult, resultText, type NotifyMessage, type ServerMessage } from './messages.js'
import { Reconnects, type ReconnectOptions } from './reconnect.js'

export { backoffMs } from './reconnect.js'

export interface ClientOptions extends ReconnectOptions {
  url: string
  user: string
  password?: string
  userAgent?: string
  /** Reconnect after a drop (default true). */
  reconnect?: boolean
  /** Longest line accepted from the pool; a longer one closes the connection. */
  lineBytesMax?: number
  /** Per-request timeout; a request unanswered this long closes the connection. */
  requestTimeoutMs?: number
  /** TCP connect plus TLS handshake. */
  connectTimeoutMs?: number
}

/** A validated mining.notify with what the session adds to it. */
export interface JobNotice extends Omit<NotifyMessage, 'kind'> {
  /** Difficulty in force when the job arrived: shares are judged at it. */
  difficulty: number
  extranonce1Hex: string
  extranonce2Size: number
}

/** The pool's error answer to a request (its code is the protocol's: 20–25, −32xxx). */
export class RpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message)
    this.name = 'RpcError'
  }
}

/**
 * `lost`: no answer came (connection closed, timed out, malformed answer), so
 * the pool may or may not have judged the share. Only `rejected` is the pool's verdict.
 */
export type SubmitResult =
  | { status: 'accepted' }
  | { status: 'rejected'; code: number; message: string }
  | { status: 'lost'; message: string }

export function parseStratumUrl(url: string): { host: string; port: number; tls: boolean } {
  const m = /^stratum\+(tcp|ssl|tls):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(url)
  const port = m ? Number(m[3]) : NaN
  if (!m || port < 1 || port > 65535) throw new PoolError(ErrorCode.ARGUMENT_INVALID, '--url must look like stratum+tcp://HOST:PORT')
  return { host: m[2]!.replace(/^\[|\]$/g, ''), port, tls: m[1] !== 'tcp' }
}

/** Why the pool would refuse `user` (PROTOCOL.md mining.authorize), or undefined when it is fine. */
export function usernameError(user: string): string | undefined {
  const dot = user.indexOf('.')
  const address = dot < 0 ? user : user.slice(0, dot)
  if (!isAccountId(address)) return 'must start with a Stellar G-address (56 characters, valid checksum)'
  if (dot >= 0 && !WORKER_RE.test(user.slice(dot + 1))) return 'worker name (after the first ".") must match [A-Za-z0-9_-]{1,32}'
  return undefined
}

/** The pool's code for a username it refuses. */
export const UNAUTHORIZED_CODE = 24
/**
 * The code a submit answered with a result other than true (and no error) is
 * counted under: Stratum v1 pools reject with {"result": false, "error": null};
 * 20 is the protocol's "Other".
 */
export const RESULT_NOT_TRUE_CODE = 20

/** The error connect() rejects with (and 'fatal' carries) when the pool refuses the username. */
export function isAuthorizeRefused(err: unknown): boolean {
  return isPoolError(err, ErrorCode.ARGUMENT_INVALID) && err.details.rpcCode === UNAUTHORIZED_CODE
}

interface Pending {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
}

const LINE_BYTES_MAX = 64 * 1024
const REQUEST_TIMEOUT_MS = 30_000
const CONNECT_TIMEOUT_MS = 10_000
/** Idle time before the first keep-alive probe: a vanished pool is found without any traffic of ours. */
const KEEPALIVE_MS = 15_000
/** Bad lines one connection may send before it is closed: a pool this broken is reconnected to. */
export const PROTOCOL_ERRORS_PER_CONNECTION_MAX = 16

/** One socket and what belongs to it alone: its read buffer, its requests, its pending set_extranonce. */
class Connection {
  buf = ''
  readonly pending = new Map<number, Pending>()
  protocolErrors = 0
  /** mining.set_extranonce received on this connection: applies from its next notify. */
  nextExtranonce: { e1: string; size: number } | undefined
  /** Why we closed it, when we did. */
  closeReason: string | undefined
  /** When it became ready (subscribed and authorized). */
  readyAtMs: number | undefined
  constructor(readonly sock: net.Socket) {}

  close(reason: string): void {
    this.closeReason ??= reason
    this.sock.destroy()
  }
}

export class StratumClient extends EventEmitter {
  private conn: Connection | undefined
  private seq = 0
  private readonly reconnects: Reconnects
  private stopped = false
  /** Bumped per connection attempt: a superseded attempt's failure schedules nothing. */
  private attemptSeq = 0
  private retryTimer: NodeJS.Timeout | undefined
  sessionId: string | undefined
  extranonce1Hex = ''
  extranonce2Size = 0
  difficulty = 1
  /** Connection is subscribed and authorized. */
  ready = false

  constructor(private readonly o: ClientOptions) {
    super()
    this.reconnects = new Reconnects(parseStratumUrl(o.url), o)
  }

  /** The URL the current (or next) connection goes to: `url`, or where a client.reconnect sent the client. */
  get url(): string {
    const { target, home } = this.reconnects
    if (target === home) return this.o.url
    const host = target.host.includes(':') ? `[${target.host}]` : target.host
    return `${this.o.url.slice(0, this.o.url.indexOf('://'))}://${host}:${target.port}`
  }

  /**
   * Connects, subscribes and authorizes; rejects when this attempt fails (the
   * caller decides whether to retry; isAuthorizeRefused(err) says it is pointless).
   * Once connected, drops are reconnected automatically.
   */
  async connect(): Promise<void> {
    this.stopped = false
    this.cancelRetry()
    this.reconnects.restart()
    this.ready = false
    this.attemptSeq++
    this.conn?.close('connect() called again')
    try {
      await this.open()
    } catch (err) {
      this.reconnects.failed()
      throw err
    }
  }

  private async open(): Promise<void> {
    const { host, port, tls: secure } = this.reconnects.target
    const sock = secure ? tls.connect({ host, port, rejectUnauthorized: false }) : net.connect({ host, port })
    const conn = new Connection(sock)
    this.conn = conn
    sock.setNoDelay(true)
    sock.setKeepAlive(true, KEEPALIVE_MS)
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => this.onData(conn, d))
    sock.on('error', () => {}) // 'close' follows: the drop, or the failed attempt, is handled there and by our caller
    sock.on('close', () => this.onClose(conn))
    try {
      await connected(sock, secure, this.o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS)
      const sub = parseSubscribeResult(await this.call(conn, 'mining.subscribe', [this.o.userAgent ?? 'kale-pool-miner/0.1', ...(this.sessionId ? [this.sessionId] : [])]))
      if (typeof sub === 'string') throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, sub)
      this.sessionId = sub.sessionId
      this.extranonce1Hex = sub.extranonce1Hex
      this.extranonce2Size = sub.extranonce2Size
      await this.call(conn, 'mining.extranonce.subscribe', [])
      await this.authorize(conn)
    } catch (err) {
      conn.close((err as Error).message)
      throw err
    }
    this.ready = true
    conn.readyAtMs = Date.now()
    this.reconnects.opened()
    this.emit('connected')
  }

  private async authorize(conn: Connection): Promise<void> {
    let r: unknown
    try {
      r = await this.call(conn, 'mining.authorize', [this.o.user, this.o.password ?? ''])
    } catch (err) {
      if (err instanceof RpcError && err.code === UNAUTHORIZED_CODE) {
        throw new PoolError(ErrorCode.ARGUMENT_INVALID, `the pool refused user ${JSON.stringify(this.o.user)}: ${err.message} (${err.code})`, { rpcCode: err.code })
      }
      throw err
    }
    if (r !== true) throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'mining.authorize: the result is not true')
  }

  /** Sends a request on the current connection; resolves with its result, rejects with RpcError (the pool's answer) or PoolError (no answer). */
  request(method: string, params: unknown[]): Promise<unknown> {
    const conn = this.conn
    if (!conn) return Promise.reject(new PoolError(ErrorCode.RPC_NETWORK, 'not connected'))
    return this.call(conn, method, params)
  }

  private call(conn: Connection, method: string, params: unknown[]): Promise<unknown> {
    if (conn.sock.destroyed) return Promise.reject(new PoolError(ErrorCode.RPC_NETWORK, 'not connected'))
    const id = ++this.seq
    const timeoutMs = this.o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.pending.delete(id)
        reject(new PoolError(ErrorCode.RPC_TIMEOUT, `${method} timed out after ${timeoutMs} ms`))
        // Answers come in order: none for this long means the pool is gone or stuck.
        conn.close(`${method} unanswered for ${timeoutMs} ms`)
      }, timeoutMs)
      conn.pending.set(id, { resolve, reject, timer })
      conn.sock.write(JSON.stringify({ id, method, params }) + '\n')
    })
  }

  async submit(jobId: string, nonceHex: string, workerName = this.o.user): Promise<SubmitResult> {
    let result: unknown
    try {
      result = await this.request('mining.submit', [workerName, jobId, nonceHex])
    } catch (e) {
      if (e instanceof RpcError) return { status: 'rejected', code: e.code, message: e.message }
      return { status: 'lost', message: (e as Error).message }
    }
    // Only true accepts (PROTOCOL.md); false, null or anything else without an error is the pool's no.
    if (result === true) return { status: 'accepted' }
    return { status: 'rejected', code: RESULT_NOT_TRUE_CODE, message: `mining.submit answered ${resultText(result)}, not true` }
  }

  private onData(conn: Connection, d: string): void {
    conn.buf += d
    let nl: number
    while ((nl = conn.buf.indexOf('\n')) >= 0) {
      const line = conn.buf.slice(0, nl)
      conn.buf = conn.buf.slice(nl + 1)
      if (line.trim() !== '') this.onLine(conn, line)
      if (conn.sock.destroyed) return
    }
    const max = this.o.lineBytesMax ?? LINE_BYTES_MAX
    if (conn.buf.length > max) this.violation(conn, `a line longer than ${max} bytes`, true)
  }

  private onLine(conn: Connection, line: string): void {
    // Nothing the pool sends, and no listener's failure, may escape the socket's data handler.
    try {
      this.handle(conn, parseServerLine(line))
    } catch (err) {
      this.emit('protocolError', `handling a line from the pool failed: ${(err as Error).message}`)
    }
  }

  private handle(conn: Connection, m: ServerMessage): void {
    switch (m.kind) {
      case 'result':
        return this.take(conn, m.id)?.resolve(m.result)
      case 'error':
        return this.take(conn, m.id)?.reject(new RpcError(m.code, m.message))
      case 'invalid':
        if (m.id !== undefined) this.take(conn, m.id, false)?.reject(new PoolError(ErrorCode.RPC_RESPONSE_INVALID, m.reason))
        return this.violation(conn, m.reason)
      case 'ignored':
        return
    }
    // Notifications of a connection that is being replaced are stale.
    if (conn !== this.conn) return
    switch (m.kind) {
      case 'difficulty':
        this.difficulty = m.difficulty
        this.emit('difficulty', this.difficulty)
        return
      case 'extranonce':
        conn.nextExtranonce = { e1: m.extranonce1Hex, size: m.extranonce2Size }
        return
      case 'notify':
        return this.onNotify(conn, m)
      case 'reconnect':
        this.reconnects.requested(m.host, m.port, m.waitSeconds * 1000)
        this.emit('reconnectRequested')
        conn.close('the pool asked to reconnect')
        return
      case 'message':
        this.emit('message', m.text)
        return
    }
  }

  /** The request `id` answers, taken off the connection; undefined (a protocol error when `strict`) if none. */
  private take(conn: Connection, id: number, strict = true): Pending | undefined {
    const p = conn.pending.get(id)
    if (!p) {
      if (strict) this.violation(conn, 'an answer to no request in flight')
      return undefined
    }
    conn.pending.delete(id)
    clearTimeout(p.timer)
    return p
  }

  private violation(conn: Connection, reason: string, fatal = false): void {
    this.emit('protocolError', reason)
    if (fatal || ++conn.protocolErrors >= PROTOCOL_ERRORS_PER_CONNECTION_MAX) conn.close(`protocol error: ${reason}`)
  }

  private onNotify(conn: Connection, m: NotifyMessage): void {
    if (conn.nextExtranonce) {
      this.extranonce1Hex = conn.nextExtranonce.e1
      this.extranonce2Size = conn.nextExtranonce.size
      conn.nextExtranonce = undefined
    }
    const job: JobNotice = {
      jobId: m.jobId, index: m.index, entropy: m.entropy, farmerKey: m.farmerKey, farmer: m.farmer, cleanJobs: m.cleanJobs,
      difficulty: this.difficulty, extranonce1Hex: this.extranonce1Hex, extranonce2Size: this.extranonce2Size,
    }
    this.emit('job', job)
  }

  private onClose(conn: Connection): void {
    for (const p of conn.pending.values()) {
      clearTimeout(p.timer)
      p.reject(new PoolError(ErrorCode.RPC_NETWORK, 'connection closed'))
    }
    conn.pending.clear()
    // A connection that never got ready is a failed attempt: whoever opened it
    // (connect()'s caller or retry()) decides what comes next, so exactly one
    // party schedules each attempt.
    if (conn !== this.conn || !this.ready) return
    this.ready = false
    this.reconnects.lost(Date.now() - (conn.readyAtMs ?? Date.now()))
    this.emit('disconnect', conn.closeReason ?? 'closed by the pool', this.scheduleRetry())
  }

  /** Arms the one reconnect timer; returns its delay, or undefined when the client does not reconnect. */
  private scheduleRetry(): number | undefined {
    if (this.stopped || this.o.reconnect === false) return undefined
    const delay = this.reconnects.nextDelayMs()
    this.cancelRetry()
    this.retryTimer = setTimeout(() => this.retry(), delay)
    this.retryTimer.unref()
    return delay
  }

  private retry(): void {
    this.retryTimer = undefined
    if (this.stopped) return
    const seq = ++this.attemptSeq
    const url = this.url
    this.open().catch((err: Error) => {
      if (this.stopped || seq !== this.attemptSeq) return
      if (isAuthorizeRefused(err)) {
        this.stopped = true
        this.emit('fatal', err)
        return
      }
      this.reconnects.failed()
      // Every failed attempt, however it failed, schedules the next one.
      this.emit('connectFailed', err, this.scheduleRetry(), url)
    })
  }

  private cancelRetry(): void {
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
  }

  close(): void {
    this.stopped = true
    this.cancelRetry()
    this.conn?.close('closed by the client')
  }
}

/** Resolves once `sock` is connected (TLS: handshake done); rejects on error, close or after `timeoutMs`. */
function connected(sock: net.Socket, secure: boolean, timeoutMs: number): Promise<void> {
  const ready = secure ? 'secureConnect' : 'connect'
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer)
      sock.off(ready, onReady)
      sock.off('error', done)
      sock.off('close', onClose)
      if (err) reject(err)
      else resolve()
    }
    const onReady = (): void => done()
    const onClose = (): void => done(new PoolError(ErrorCode.RPC_NETWORK, 'connection closed'))
    const timer = setTimeout(() => {
      done(new PoolError(ErrorCode.RPC_TIMEOUT, `connect timed out after ${timeoutMs} ms`))
      sock.destroy()
    }, timeoutMs)
    sock.once(ready, onReady)
    sock.once('error', done)
    sock.once('close', onClose)
  })
}
