// The one Soroban RPC client: rpc.Server with an explicit per-request timeout
// (the SDK ignores its own `timeout` option, STELLAR.md), bounded retries with
// exponential backoff and full jitter, and one PoolError for every failure shape.
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { rpc, type xdr } from '@stellar/stellar-sdk'
import { PoolError, ErrorCode, isPoolError } from '../errors.js'
import type { Metrics } from '../metrics/metrics.js'

export interface RpcOptions {
  timeoutMs: number
  retriesMax: number
  /** first backoff step; doubles per retry up to backoffMsMax */
  backoffMs?: number
  backoffMsMax?: number
  metrics?: Metrics | undefined
}

const BACKOFF_MS = 100
/** largest JSON-RPC answer raw() accepts */
const ANSWER_BYTES_MAX = 16 * 1024 * 1024
const BACKOFF_MS_MAX = 2000
/** JSON-RPC codes that say our request is wrong: retrying cannot help. */
const REQUEST_INVALID_CODES = new Set([-32600, -32601, -32602, -32700])
const MESSAGE_CHARS_MAX = 200

function clip(s: string): string {
  return s.length > MESSAGE_CHARS_MAX ? `${s.slice(0, MESSAGE_CHARS_MAX)}…` : s
}

/**
 * Normalises what the SDK throws: a JSON-RPC error arrives as the raw
 * `{code, message}` object (not an Error); an HTTP failure is an Error with
 * `.response.status`; timeouts and socket failures are plain Errors/TypeErrors.
 */
export function normalizeRpcError(err: unknown, method: string): PoolError {
  if (isPoolError(err)) return err
  if (typeof err === 'object' && err !== null && !(err instanceof Error)) {
    const o = err as { code?: unknown; message?: unknown }
    if (typeof o.code === 'number') {
      const msg = typeof o.message === 'string' ? clip(o.message) : 'no message'
      return new PoolError(ErrorCode.RPC_JSON, `${method}: JSON-RPC error ${o.code}: ${msg}`, { method, rpcCode: o.code })
    }
    return new PoolError(ErrorCode.RPC_RESPONSE_INVALID, `${method}: unexpected error value`, { method })
  }
  if (err instanceof Error) {
    const status = (err as { response?: { status?: unknown } }).response?.status
    if (typeof status === 'number') {
      return new PoolError(ErrorCode.RPC_HTTP, `${method}: HTTP ${status}`, { method, status }, { cause: err })
    }
    const text = `${err.name} ${err.message} ${String((err as { cause?: { code?: unknown } }).cause?.code ?? '')}`
    if (/timeout|TimeoutError|AbortError|aborted/i.test(text)) {
      return new PoolError(ErrorCode.RPC_TIMEOUT, `${method}: timed out`, { method }, { cause: err })
    }
    if (/fetch failed|ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|socket|other side closed|network/i.test(text)) {
      return new PoolError(ErrorCode.RPC_NETWORK, `${method}: network error`, { method }, { cause: err })
    }
    return new PoolError(ErrorCode.RPC_RESPONSE_INVALID, `${method}: invalid response (${clip(err.message)})`, { method }, { cause: err })
  }
  return new PoolError(ErrorCode.RPC_RESPONSE_INVALID, `${method}: unexpected error value`, { method })
}

/** Worth another try: transient failures, server-side JSON-RPC errors and garbled answers. */
export function isRetryable(err: PoolError): boolean {
  if (err.transient) return true
  if (err.code === ErrorCode.RPC_RESPONSE_INVALID) return true
  if (err.code === ErrorCode.RPC_HTTP) return Number(err.details.status) === 429
  if (err.code === ErrorCode.RPC_JSON) return !REQUEST_INVALID_CODES.has(Number(err.details.rpcCode))
  return false
}

/** Full-jitter exponential backoff: uniform in [0, min(max, base·2^attempt)]. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** attempt))
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** How many recent faults the client remembers (their cost in ms and when). */
const FAULTS_REMEMBERED_MAX = 64

export class RpcClient {
  readonly server: rpc.Server
  readonly url: string
  private readonly opts: Required<Omit<RpcOptions, 'metrics'>> & { metrics: Metrics | undefined }
  /** recent failed attempts: wall time lost to each (the attempt plus its backoff), and when it ended */
  private readonly faults: Array<{ at: number; costMs: number }> = []

  /** raw(): the URL parsed once and one keep-alive agent */
  private readonly target: URL
  private readonly agent: HttpAgent | HttpsAgent

  constructor(url: string, options: RpcOptions) {
    this.url = url
    this.target = new URL(url)
    this.agent = this.target.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
    this.server = new rpc.Server(url, { allowHttp: url.startsWith('http://') })
    // The SDK ignores the constructor's timeout: set it on its HTTP client.
    this.server.httpClient.defaults.timeout = options.timeoutMs
    this.opts = { backoffMs: BACKOFF_MS, backoffMsMax: BACKOFF_MS_MAX, ...options, metrics: options.metrics }
  }

  /**
   * Runs `fn` against the server; retries retryable failures up to retriesMax
   * times. `retry: false` for calls whose repetition is not harmless.
   */
  async call<T>(method: string, fn: (server: rpc.Server) => Promise<T>, retry = true): Promise<T> {
    const attempts = retry ? this.opts.retriesMax + 1 : 1
    for (let attempt = 0; ; attempt++) {
      const started = Date.now()
      try {
        return await this.withDeadline(method, fn(this.server))
      } catch (raw) {
        const err = normalizeRpcError(raw, method)
        this.opts.metrics?.rpcErrorsTotal.inc({ code: err.code })
        if (attempt + 1 >= attempts || !isRetryable(err)) {
          this.noteFault(started)
          throw err
        }
        await sleep(backoffMs(attempt, this.opts.backoffMs, this.opts.backoffMsMax))
        this.noteFault(started)
      }
    }
  }

  /**
   * A JSON-RPC request whose answer is returned as the server sent it (no SDK
   * parsing, no axios/fetch: one node:http request on a keep-alive socket) for
   * the hot path, where that machinery is the cost. Same retries and errors as call().
   */
  raw<T>(method: string, params: Record<string, unknown>, retry = true): Promise<T> {
    return this.call(method, async () => {
      const body = await this.post(method, JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }))
      let data: unknown
      try {
        data = JSON.parse(body)
      } catch {
        throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, `${method}: answer is not JSON`, { method })
      }
      if (typeof data !== 'object' || data === null) throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, `${method}: answer is not an object`, { method })
      const o = data as { result?: unknown; error?: unknown }
      if (Object.prototype.hasOwnProperty.call(o, 'error')) throw o.error
      if (typeof o.result !== 'object' || o.result === null) throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, `${method}: result missing`, { method })
      return o.result as T
    }, retry)
  }

  /** POSTs a body and resolves with the answer text; HTTP ≥ 400, timeouts and oversized answers reject. */
  private post(method: string, body: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = (this.target.protocol === 'https:' ? httpsRequest : httpRequest)(this.target, {
        method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: this.opts.timeoutMs,
      }, (res) => {
        const status = res.statusCode ?? 0
        if (status >= 400) {
          res.resume()
          reject(new PoolError(ErrorCode.RPC_HTTP, `${method}: HTTP ${status}`, { method, status }))
          return
        }
        const chunks: Buffer[] = []
        let bytes = 0
        res.on('data', (c: Buffer) => {
          bytes += c.length
          if (bytes > ANSWER_BYTES_MAX) {
            req.destroy()
            reject(new PoolError(ErrorCode.RPC_RESPONSE_INVALID, `${method}: answer exceeds ${ANSWER_BYTES_MAX} bytes`, { method }))
            return
          }
          chunks.push(c)
        })
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new PoolError(ErrorCode.RPC_TIMEOUT, `${method}: timed out`, { method })))
      req.on('error', reject)
      req.end(body)
    })
  }

  private noteFault(startedAt: number): void {
    const now = Date.now()
    this.faults.push({ at: now, costMs: now - startedAt })
    if (this.faults.length > FAULTS_REMEMBERED_MAX) this.faults.shift()
  }

  /**
   * The most wall time one failed attempt (a hang until the timeout, a 503, and
   * the backoff after it) cost within the last `windowMs`; 0 when none failed.
   * Deadline-bound work starts this much earlier so one fault cannot make it late.
   */
  recentFaultCostMs(windowMs: number, now = Date.now()): number {
    let worst = 0
    for (const f of this.faults) if (now - f.at <= windowMs && f.costMs > worst) worst = f.costMs
    return worst
  }

  /** Second fence: even if the HTTP client's timeout failed to fire, the caller is released. */
  private withDeadline<T>(method: string, p: Promise<T>): Promise<T> {
    const ms = this.opts.timeoutMs + 1000
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PoolError(ErrorCode.RPC_TIMEOUT, `${method}: timed out`, { method })), ms)
    })
    return Promise.race([p, deadline]).finally(() => clearTimeout(timer))
  }
}

/** getLedgerEntries answers are capped at 200 keys per request (Soroban RPC). */
export const LEDGER_KEYS_PER_REQUEST_MAX = 200

export interface EntriesResult {
  /** by keyId(key) */
  entries: Map<string, { key: xdr.LedgerKey; val: xdr.LedgerEntryData; liveUntilLedgerSeq?: number | undefined }>
  latestLedger: number
}

/** Reads many ledger entries in requests of ≤ 200 keys; missing keys are simply absent. */
export async function readEntries(client: RpcClient, keys: readonly xdr.LedgerKey[]): Promise<EntriesResult> {
  const entries: EntriesResult['entries'] = new Map()
  let latestLedger = 0
  for (let i = 0; i < keys.length; i += LEDGER_KEYS_PER_REQUEST_MAX) {
    const batch = keys.slice(i, i + LEDGER_KEYS_PER_REQUEST_MAX)
    const res = await client.call('getLedgerEntries', (s) => s.getLedgerEntries(...batch))
    latestLedger = Math.max(latestLedger, res.latestLedger)
    for (const e of res.entries ?? []) entries.set(e.key.toXDR('base64'), e)
  }
  return { entries, latestLedger }
}

/** The newest ledger and its close time (unix seconds, always a finite number > 0). */
export interface LatestLedger {
  sequence: number
  closeTime: number
}

/** A close time as RPC answers give it (a decimal string, sometimes a number); undefined unless finite and > 0. */
export function closeTimeOf(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN
  return Number.isFinite(n) && n > 0 ? n : undefined
}

/** An all-zero hash: getTransaction of it is NOT_FOUND, with latestLedger and its close time (every RPC version). */
const NO_SUCH_HASH = '0'.repeat(64)

/**
 * getLatestLedger with a close time that is never NaN. RPCs before v25 leave
 * `closeTime` out; Number(undefined) then made every deadline comparison false
 * (works never sent, no error). Fallbacks, in order: getLedgers for that ledger,
 * then the latestLedgerCloseTime of a getTransaction answer. Throws a PoolError
 * when no answer has a usable close time.
 */
export async function latestLedger(client: RpcClient): Promise<LatestLedger> {
  const l = await client.raw<{ sequence?: unknown; closeTime?: unknown }>('getLatestLedger', {})
  const sequence = l.sequence
  if (typeof sequence !== 'number' || !Number.isInteger(sequence) || sequence <= 0) throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'getLatestLedger: sequence missing', { method: 'getLatestLedger' })
  const direct = closeTimeOf(l.closeTime)
  if (direct !== undefined) return { sequence, closeTime: direct }
  try {
    const r = await client.raw<{ ledgers?: Array<{ sequence?: unknown; ledgerCloseTime?: unknown }> }>('getLedgers', { startLedger: sequence, pagination: { limit: 1 } }, false)
    const first = r.ledgers?.[0]
    const t = first?.sequence === sequence ? closeTimeOf(first.ledgerCloseTime) : undefined
    if (t !== undefined) return { sequence, closeTime: t }
  } catch {
    // older RPC without getLedgers (or it failed): the next fallback decides
  }
  const tx = await client.raw<{ latestLedger?: unknown; latestLedgerCloseTime?: unknown }>('getTransaction', { hash: NO_SUCH_HASH }).catch(() => undefined)
  const t = closeTimeOf(tx?.latestLedgerCloseTime)
  if (tx && typeof tx.latestLedger === 'number' && Number.isInteger(tx.latestLedger) && tx.latestLedger >= sequence && t !== undefined) return { sequence: tx.latestLedger, closeTime: t }
  throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'getLatestLedger: no close time (RPC older than v25 and neither getLedgers nor getTransaction gave one)', { method: 'getLatestLedger' })
}
