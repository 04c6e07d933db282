// The KALE Stratum wire format (PROTOCOL.md), pure: parse one line into a request
// or a protocol error, encode responses and notifications, and the one table that
// maps share outcomes to their codes and messages.
//
// Why not json-rpc-2.0's JSONRPCServer: it requires `"jsonrpc":"2.0"` (Stratum
// clients omit it), resolves every request through a Promise chain, and would
// have to answer in order anyway — on this line protocol one synchronous switch
// over six method names is clearer and keeps the submit hot path allocation-light.
// We still take its error-code table so the numbers live in one place.
import { JSONRPCErrorCode } from 'json-rpc-2.0'
import type { ShareResult } from '../metrics/metrics.js'

/**
 * A numeric id whose text is not what JSON.stringify gives back for its value
 * (`1.50`, `1e3`, `12345678901234567890`): kept as the client wrote it, since ids
 * are echoed verbatim (PROTOCOL.md).
 */
export class RawId {
  constructor(readonly text: string) {}
}

export type RequestId = number | string | null | RawId

export const RpcCode = {
  parse: JSONRPCErrorCode.ParseError,
  invalidRequest: JSONRPCErrorCode.InvalidRequest,
  methodNotFound: JSONRPCErrorCode.MethodNotFound,
  invalidParams: JSONRPCErrorCode.InvalidParams,
} as const

export interface Request {
  id: RequestId
  method: string
  params: unknown[]
}

export type Parsed =
  | { ok: true; request: Request }
  /** `fatal` = the connection must be closed after the error is written (-32700). */
  | { ok: false; id: RequestId; code: number; message: string; fatal: boolean }

function isId(v: unknown): v is RequestId {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))
}

/** Parses one line (without its `\n`, a trailing `\r` tolerated). */
export function parseLine(line: string): Parsed {
  let msg: unknown
  try {
    msg = JSON.parse(line)
  } catch {
    return { ok: false, id: null, code: RpcCode.parse, message: 'Parse error', fatal: true }
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    return { ok: false, id: null, code: RpcCode.invalidRequest, message: 'Invalid request', fatal: false }
  }
  const o = msg as Record<string, unknown>
  const id = typeof o.id === 'number' && Number.isFinite(o.id) ? numericId(line, o.id) : isId(o.id) ? o.id : null
  if (!isId(o.id) && o.id !== undefined) return { ok: false, id: null, code: RpcCode.invalidRequest, message: 'Invalid request: bad id', fatal: false }
  if (o.jsonrpc !== undefined && o.jsonrpc !== '2.0') return { ok: false, id, code: RpcCode.invalidRequest, message: 'Invalid request: jsonrpc must be "2.0"', fatal: false }
  if (typeof o.method !== 'string') return { ok: false, id, code: RpcCode.invalidRequest, message: 'Invalid request: method must be a string', fatal: false }
  const params = o.params === undefined || o.params === null ? [] : o.params
  if (!Array.isArray(params)) return { ok: false, id, code: RpcCode.invalidParams, message: 'Invalid params: must be an array', fatal: false }
  return { ok: true, request: { id, method: o.method, params } }
}

// Ids are echoed verbatim: a number whose text JSON.stringify would change is a
// RawId; strings come back as equal values.
function idText(id: RequestId): string {
  return id instanceof RawId ? id.text : JSON.stringify(id)
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
}

/**
 * The id `n` (parsed from `line`), or a RawId with its text when re-serialising
 * would change it. Cheap on the hot path: clients put the id first
 * (`{"id":123,…`) and a short plain integer needs no allocation at all.
 */
function numericId(line: string, n: number): RequestId {
  let at = line.startsWith('{"id":') ? 6 : idValueAt(line)
  if (at < 0) return n
  while (at < line.length && isSpace(line.charCodeAt(at))) at++
  let end = at
  let plain = true // digits with an optional leading '-': String(n) gives them back when safe
  for (; end < line.length; end++) {
    const c = line.charCodeAt(end)
    if (c >= 0x30 && c <= 0x39) continue
    if (c === 0x2d && end === at) continue
    if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) {
      plain = false
      continue
    }
    break
  }
  if (plain && end - at <= 15 && !Object.is(n, -0)) return n
  const text = line.slice(at, end)
  // A duplicate "id" key: JSON.parse kept the last one, the scan found another.
  return Number(text) === n && text !== JSON.stringify(n) ? new RawId(text) : n
}

/** Where the value of the top-level "id" member starts in `line` (a valid JSON object), or -1. */
function idValueAt(line: string): number {
  let depth = 0
  let key = false // the next string at depth 1 is a member name
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i)
    if (c === QUOTE) {
      const start = i
      let escaped = false
      for (i++; i < line.length; i++) {
        const d = line.charCodeAt(i)
        if (d === BACKSLASH) {
          escaped = true
          i++
        } else if (d === QUOTE) break
      }
      if (depth !== 1 || !key) continue
      key = false
      const isIdKey = escaped ? JSON.parse(line.slice(start, i + 1)) === 'id' : i - start === 3 && line.startsWith('id', start + 1)
      if (!isIdKey) continue
      let j = i + 1
      while (j < line.length && isSpace(line.charCodeAt(j))) j++
      return line.charCodeAt(j) === 0x3a ? j + 1 : -1
    }
    if (c === 0x7b || c === 0x5b) {
      depth++
      if (depth === 1) key = c === 0x7b
    } else if (c === 0x7d || c === 0x5d) depth--
    else if (c === 0x2c && depth === 1) key = true
  }
  return -1
}

export function encodeResult(id: RequestId, result: unknown): string {
  return `{"jsonrpc":"2.0","id":${idText(id)},"result":${JSON.stringify(result)}}\n`
}

// Precomputed: the answer to every accepted share differs only in its id.
export function encodeTrue(id: RequestId): string {
  return `{"jsonrpc":"2.0","id":${idText(id)},"result":true}\n`
}

export function encodeError(id: RequestId, code: number, message: string): string {
  return `{"jsonrpc":"2.0","id":${idText(id)},"error":{"code":${code},"message":${JSON.stringify(message)}}}\n`
}

export function encodeNotification(method: string, params: unknown[]): string {
  return `{"jsonrpc":"2.0","method":"${method}","params":${JSON.stringify(params)}}\n`
}

/** mining.notify params: [jobId, blockIndex, entropyHex, farmerKeyHex, farmerAddress, cleanJobs]. */
export function encodeNotify(jobId: string, index: number, entropyHex: string, farmerKeyHex: string, farmer: string, cleanJobs: boolean): string {
  return encodeNotification('mining.notify', [jobId, index, entropyHex, farmerKeyHex, farmer, cleanJobs])
}

// --- share outcomes: a closed union, one table to codes and metric labels ---
// Labels come from the metrics' closed set SHARE_RESULTS (a refusal to judge is
// "busy", a made-up job id "stale" like the answer the miner sees).

export const SHARE_OUTCOMES = {
  accepted: { code: 0, message: '', metric: 'accepted' },
  notSubscribed: { code: 25, message: 'Not subscribed', metric: 'unauthorized' },
  unauthorized: { code: 24, message: 'Unauthorized worker', metric: 'unauthorized' },
  malformedNonce: { code: 20, message: 'Malformed nonce', metric: 'malformed' },
  jobNotFound: { code: 21, message: 'Job not found', metric: 'stale' },
  /** A job id this session was never sent (made up): 21 like a stale job, but invalid work. */
  jobUnknown: { code: 21, message: 'Job not found', metric: 'stale' },
  duplicate: { code: 22, message: 'Duplicate share', metric: 'duplicate' },
  /**
   * A nonce judged before under another job id of the same work (a retarget or a
   * rebalance re-issued it), or judged under this extranonce1 by an earlier session
   * whose reservation was freed in this block: 22, never credited twice, but not
   * this miner's fault — a client that restarts its extranonce2 on every notify (or
   * at 0 like the previous holder) meets these — so it counts toward no ban, either way.
   */
  duplicateReissued: { code: 22, message: 'Duplicate share', metric: 'duplicate' },
  lowDifficulty: { code: 23, message: 'Low difficulty share', metric: 'low_difficulty' },
  busy: { code: 20, message: 'Other: pool busy, retry', metric: 'busy' },
  internal: { code: 20, message: 'Other: internal error', metric: 'busy' },
  /** The session's duplicate memory for this block is full (SESSION_NONCES_PER_BLOCK_MAX): refused until the next block. */
  shareLimit: { code: 20, message: 'Other: share limit for this block reached', metric: 'busy' },
} as const satisfies Record<string, { code: number; message: string; metric: ShareResult }>

export type ShareOutcome = keyof typeof SHARE_OUTCOMES

/** Outcomes that count as invalid work toward an invalid-share ban (stale and busy are the pool's doing). */
export function countsAsInvalid(o: ShareOutcome): boolean {
  return o === 'malformedNonce' || o === 'jobUnknown' || o === 'duplicate' || o === 'lowDifficulty' || o === 'unauthorized' || o === 'notSubscribed'
}

/**
 * Outcomes that count toward the ban ratio at all: the pool refusing to judge
 * does not, nor a re-issued duplicate, nor a stale job (all neutral). Neutral,
 * not valid: a stale job id costs the pool no hash, so counted as a judged share
 * it padded the ratio — one free stale submit per low-difficulty share kept a
 * session at exactly 50 % invalid forever while the pool hashed every one.
 */
export function countsAsJudged(o: ShareOutcome): boolean {
  return o !== 'busy' && o !== 'internal' && o !== 'shareLimit' && o !== 'duplicateReissued' && o !== 'jobNotFound'
}

export function encodeOutcome(id: RequestId, o: ShareOutcome): string {
  if (o === 'accepted') return encodeTrue(id)
  const row = SHARE_OUTCOMES[o]
  return encodeError(id, row.code, row.message)
}

/** Error codes of the non-share methods. */
export const MethodError = {
  unauthorizedWorker: { code: 24, message: 'Unauthorized worker' },
  notSubscribed: { code: 25, message: 'Not subscribed' },
  other: { code: 20, message: 'Other' },
} as const

export const NONCE_HEX_RE = /^[0-9a-fA-F]{16}$/
export const WORKER_RE = /^[A-Za-z0-9_-]{1,32}$/
