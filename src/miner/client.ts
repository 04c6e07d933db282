// KALE Stratum client library: the protocol's reference client (PROTOCOL.md),
// used by `kale-pool mine`, the tests and the stratum bench's load generator.
// connect → subscribe (resuming the sessionId after a drop) → authorize; jobs
// arrive as events carrying the difficulty in force when they were sent.
import net from 'node:net'
import tls from 'node:tls'
import { EventEmitter } from 'node:events'
import { PoolError, ErrorCode } from '../errors.js'

export interface ClientOptions {
  url: string
  user: string
  password?: string
  userAgent?: string
  /** Reconnect after a drop (default true). */
  reconnect?: boolean
  backoffMsMin?: number
  backoffMsMax?: number
  /** Longest line accepted from the pool. */
  lineBytesMax?: number
  /** Per-request timeout. */
  requestTimeoutMs?: number
}

export interface JobNotice {
  jobId: string
  index: number
  entropy: Uint8Array
  farmerKey: Uint8Array
  farmer: string
  cleanJobs: boolean
  /** Difficulty in force when the job arrived: shares are judged at it. */
  difficulty: number
  extranonce1Hex: string
  extranonce2Size: number
}

export class RpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message)
    this.name = 'RpcError'
  }
}

export type SubmitResult = { ok: true } | { ok: false; code: number; message: string }

export function parseStratumUrl(url: string): { host: string; port: number; tls: boolean } {
  const m = /^stratum\+(tcp|ssl|tls):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(url)
  const port = m ? Number(m[3]) : NaN
  if (!m || port < 1 || port > 65535) throw new PoolError(ErrorCode.ARGUMENT_INVALID, '--url must look like stratum+tcp://HOST:PORT')
  return { host: m[2]!.replace(/^\[|\]$/g, ''), port, tls: m[1] !== 'tcp' }
}

interface Pending {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
}

const LINE_BYTES_MAX = 64 * 1024

export class StratumClient extends EventEmitter {
  private sock: net.Socket | undefined
  private buf = ''
  private seq = 0
  private readonly pending = new Map<number, Pending>()
  private target: { host: string; port: number; tls: boolean }
  private stopped = false
  private attempt = 0
  sessionId: string | undefined
  extranonce1Hex = ''
  extranonce2Size = 0
  difficulty = 1
  private nextExtranonce: { e1: string; size: number } | undefined
  /** Connection is subscribed and authorized. */
  ready = false

  constructor(private readonly o: ClientOptions) {
    super()
    this.target = parseStratumUrl(o.url)
  }

  /** Connects, subscribes and authorizes; rejects when the first attempt fails. */
  async connect(): Promise<void> {
    this.stopped = false
    try {
      await this.open()
    } catch (e) {
      this.close()
      throw e
    }
  }

  private async open(): Promise<void> {
    const { host, port } = this.target
    const sock = this.target.tls ? tls.connect({ host, port, rejectUnauthorized: false }) : net.connect({ host, port })
    sock.setNoDelay(true)
    this.sock = sock
    this.buf = ''
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => this.onData(d))
    sock.on('error', () => {})
    sock.on('close', () => this.onClose(sock))
    await new Promise<void>((resolve, reject) => {
      sock.once(this.target.tls ? 'secureConnect' : 'connect', () => resolve())
      sock.once('error', reject)
    })
    const sub = (await this.request('mining.subscribe', [this.o.userAgent ?? 'kale-pool-miner/0.1', ...(this.sessionId ? [this.sessionId] : [])])) as [string, string, number]
    this.sessionId = sub[0]
    this.extranonce1Hex = sub[1]
    this.extranonce2Size = sub[2]
    await this.request('mining.extranonce.subscribe', [])
    await this.request('mining.authorize', [this.o.user, this.o.password ?? ''])
    this.ready = true
    this.attempt = 0
    this.emit('connected')
  }

  /** Sends a request; resolves with its result, rejects with RpcError. */
  request(method: string, params: unknown[]): Promise<unknown> {
    const sock = this.sock
    if (!sock || sock.destroyed) return Promise.reject(new RpcError(-1, 'not connected'))
    const id = ++this.seq
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new RpcError(-2, `${method} timed out`))
      }, this.o.requestTimeoutMs ?? 30_000)
      this.pending.set(id, { resolve, reject, timer })
      sock.write(JSON.stringify({ id, method, params }) + '\n')
    })
  }

  async submit(jobId: string, nonceHex: string, workerName = this.o.user): Promise<SubmitResult> {
    try {
      await this.request('mining.submit', [workerName, jobId, nonceHex])
      return { ok: true }
    } catch (e) {
      if (e instanceof RpcError) return { ok: false, code: e.code, message: e.message }
      throw e
    }
  }

  private onData(d: string): void {
    this.buf += d
    let nl: number
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl)
      this.buf = this.buf.slice(nl + 1)
      if (line.trim() !== '') this.onLine(line)
    }
    if (this.buf.length > (this.o.lineBytesMax ?? LINE_BYTES_MAX)) this.sock?.destroy()
  }

  private onLine(line: string): void {
    let msg: { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: { code?: number; message?: string } | null }
    try {
      msg = JSON.parse(line)
    } catch {
      this.emit('protocolError', line)
      return
    }
    if (typeof msg.method === 'string') return this.onNotification(msg.method, Array.isArray(msg.params) ? msg.params : [])
    const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined
    if (!p) return
    this.pending.delete(msg.id as number)
    clearTimeout(p.timer)
    if (msg.error) p.reject(new RpcError(Number(msg.error.code), String(msg.error.message)))
    else p.resolve(msg.result)
  }

  private onNotification(method: string, params: unknown[]): void {
    switch (method) {
      case 'mining.set_difficulty':
        if (typeof params[0] === 'number') this.difficulty = params[0]
        this.emit('difficulty', this.difficulty)
        return
      case 'mining.set_extranonce':
        if (typeof params[0] === 'string' && typeof params[1] === 'number') this.nextExtranonce = { e1: params[0], size: params[1] }
        return
      case 'mining.notify':
        return this.onNotify(params)
      case 'client.reconnect':
        return this.onReconnect(params)
      case 'client.show_message':
        this.emit('message', String(params[0]))
        return
    }
  }

  private onNotify(p: unknown[]): void {
    const [jobId, index, entropyHex, keyHex, farmer, clean] = p
    if (typeof jobId !== 'string' || typeof index !== 'number' || typeof entropyHex !== 'string' || typeof keyHex !== 'string') return
    if (this.nextExtranonce) {
      this.extranonce1Hex = this.nextExtranonce.e1
      this.extranonce2Size = this.nextExtranonce.size
      this.nextExtranonce = undefined
    }
    const job: JobNotice = {
      jobId, index, entropy: Buffer.from(entropyHex, 'hex'), farmerKey: Buffer.from(keyHex, 'hex'), farmer: String(farmer),
      cleanJobs: clean === true, difficulty: this.difficulty, extranonce1Hex: this.extranonce1Hex, extranonce2Size: this.extranonce2Size,
    }
    this.emit('job', job)
  }

  private onReconnect(p: unknown[]): void {
    const [host, port, wait] = p
    if (typeof host === 'string' && host !== '' && typeof port === 'number' && port > 0) this.target = { ...this.target, host, port }
    const waitMs = typeof wait === 'number' && wait > 0 ? Math.min(wait, 3600) * 1000 : 0
    this.emit('reconnectRequested')
    this.sock?.destroy()
    this.attempt = -1 // next backoff is exactly waitMs
    this.retryAfterMs = waitMs
  }

  private retryAfterMs: number | undefined

  private onClose(sock: net.Socket): void {
    if (sock !== this.sock) return
    this.ready = false
    for (const [, p] of this.pending) {
      clearTimeout(p.timer)
      p.reject(new RpcError(-1, 'connection closed'))
    }
    this.pending.clear()
    this.emit('disconnect')
    if (this.stopped || this.o.reconnect === false) return
    const delay = this.retryAfterMs ?? backoffMs(this.attempt++, this.o.backoffMsMin ?? 500, this.o.backoffMsMax ?? 30_000)
    this.retryAfterMs = undefined
    if (this.attempt <= 0) this.attempt = 1
    setTimeout(() => {
      if (this.stopped) return
      // A failed attempt closes its socket, whose 'close' schedules the next one.
      this.open().catch(() => this.sock?.destroy())
    }, delay).unref()
  }

  close(): void {
    this.stopped = true
    this.sock?.destroy()
  }
}

/** Exponential backoff with full jitter: uniform in [min, min(max, min·2^attempt)]. */
export function backoffMs(attempt: number, min: number, max: number): number {
  const cap = Math.min(max, min * 2 ** Math.min(Math.max(attempt, 0), 20))
  return min + Math.random() * (cap - min)
}
