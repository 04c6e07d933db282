// What the pool sends, checked before the client acts on any of it. Pure: one
// line in, one typed message (or the reason it breaks PROTOCOL.md) out. A pool is
// a remote party — hostile or just buggy — and a bad value must not reach the
// hash threads (whose setJob throws on it) or crash the socket handler.
// Reasons never quote the pool's text: the miner prints them on a terminal.

/** The smallest difficulty PROTOCOL.md allows ("D a number ≥ 1"). */
export const DIFFICULTY_MIN = 1
export const JOB_ID_CHARS_MAX = 64
export const SESSION_ID_CHARS_MAX = 128
/** A G… or C… address is 56 characters; the notify carries it for display only. */
export const FARMER_ADDRESS_CHARS_MAX = 64
/** client.show_message text beyond this is cut (it is shown, never parsed). */
export const MESSAGE_CHARS_MAX = 1024
export const RPC_MESSAGE_CHARS_MAX = 256
export const RECONNECT_WAIT_SECONDS_MAX = 3600
const HOST_CHARS_MAX = 253

const U32_MAX = 0xffff_ffff
const HEX64_RE = /^[0-9a-fA-F]{64}$/
const EXTRANONCE1_RE = /^(?:[0-9a-fA-F]{2}){0,7}$/
const HOST_RE = /^[A-Za-z0-9._:-]+$/
// Shown on a terminal: no escape sequences from the pool.
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/g

export interface NotifyMessage {
  kind: 'notify'
  jobId: string
  index: number
  entropy: Uint8Array
  farmerKey: Uint8Array
  farmer: string
  cleanJobs: boolean
}

export type ServerMessage =
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number; code: number; message: string }
  | { kind: 'difficulty'; difficulty: number }
  | NotifyMessage
  | { kind: 'extranonce'; extranonce1Hex: string; extranonce2Size: number }
  /** host/port undefined: the current ones (the pool's own shutdown sends `["", 0, wait]`). */
  | { kind: 'reconnect'; host: string | undefined; port: number | undefined; waitSeconds: number }
  | { kind: 'message'; text: string }
  /** A notification this client does not know: ignored, for pools newer than it. */
  | { kind: 'ignored' }
  /** Breaks the protocol; `id` when it answers one of our requests (that request fails). */
  | { kind: 'invalid'; reason: string; id?: number }

export interface Subscription {
  sessionId: string
  extranonce1Hex: string
  extranonce2Size: number
}

export function parseServerLine(line: string): ServerMessage {
  let msg: unknown
  try {
    msg = JSON.parse(line)
  } catch {
    return { kind: 'invalid', reason: 'a line that is not JSON' }
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { kind: 'invalid', reason: 'a line that is not a JSON object' }
  const o = msg as Record<string, unknown>
  if (o.method !== undefined) return parseNotification(o)
  return parseResponse(o)
}

function parseResponse(o: Record<string, unknown>): ServerMessage {
  const id = o.id
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    // The pool answers a line it could not read with id null before closing (PROTOCOL.md).
    const e = errorOf(o.error)
    return { kind: 'invalid', reason: e ? `pool error ${e.code} without a request id` : 'a response with an id this client never sends' }
  }
  if (o.error !== undefined && o.error !== null) {
    const e = errorOf(o.error)
    return e ? { kind: 'error', id, ...e } : { kind: 'invalid', id, reason: 'an error that is not {code: integer, message: string}' }
  }
  if (!('result' in o)) return { kind: 'invalid', id, reason: 'a response with neither result nor error' }
  return { kind: 'result', id, result: o.result }
}

function errorOf(e: unknown): { code: number; message: string } | undefined {
  if (typeof e !== 'object' || e === null) return undefined
  const { code, message } = e as Record<string, unknown>
  if (typeof code !== 'number' || !Number.isSafeInteger(code) || typeof message !== 'string') return undefined
  return { code, message: clean(message, RPC_MESSAGE_CHARS_MAX) }
}

function parseNotification(o: Record<string, unknown>): ServerMessage {
  const method = o.method
  if (typeof method !== 'string') return { kind: 'invalid', reason: 'a method that is not a string' }
  const params = o.params ?? []
  if (!Array.isArray(params)) return { kind: 'invalid', reason: `${known(method)}: params that are not an array` }
  switch (method) {
    case 'mining.set_difficulty': return parseDifficulty(params)
    case 'mining.notify': return parseNotify(params)
    case 'mining.set_extranonce': {
      const e = parseExtranonce(params[0], params[1])
      return typeof e === 'string' ? { kind: 'invalid', reason: `mining.set_extranonce: ${e}` } : { kind: 'extranonce', ...e }
    }
    case 'client.reconnect': return parseReconnect(params)
    case 'client.show_message':
      if (typeof params[0] !== 'string') return { kind: 'invalid', reason: 'client.show_message: text must be a string' }
      return { kind: 'message', text: clean(params[0], MESSAGE_CHARS_MAX) }
    default:
      return { kind: 'ignored' }
  }
}

function parseDifficulty(params: unknown[]): ServerMessage {
  const d = params[0]
  // JSON's 1e999 parses to Infinity: finite is part of the check.
  if (typeof d !== 'number' || !Number.isFinite(d) || d < DIFFICULTY_MIN) {
    return { kind: 'invalid', reason: `mining.set_difficulty: difficulty must be a finite number >= ${DIFFICULTY_MIN}` }
  }
  return { kind: 'difficulty', difficulty: d }
}

function parseNotify(p: unknown[]): ServerMessage {
  const [jobId, index, entropyHex, keyHex, farmer, clean] = p
  const bad = (why: string): ServerMessage => ({ kind: 'invalid', reason: `mining.notify: ${why}` })
  if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > JOB_ID_CHARS_MAX) return bad(`jobId must be a string of 1..${JOB_ID_CHARS_MAX} characters`)
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > U32_MAX) return bad('blockIndex must be an integer 0..4294967295')
  if (typeof entropyHex !== 'string' || !HEX64_RE.test(entropyHex)) return bad('entropy must be 64 hex digits')
  if (typeof keyHex !== 'string' || !HEX64_RE.test(keyHex)) return bad('farmerKey must be 64 hex digits')
  if (typeof farmer !== 'string' || farmer.length > FARMER_ADDRESS_CHARS_MAX) return bad(`farmerAddress must be a string of at most ${FARMER_ADDRESS_CHARS_MAX} characters`)
  if (typeof clean !== 'boolean') return bad('cleanJobs must be a boolean')
  return {
    kind: 'notify', jobId, index, entropy: Buffer.from(entropyHex, 'hex'), farmerKey: Buffer.from(keyHex, 'hex'),
    farmer: cleanText(farmer), cleanJobs: clean,
  }
}

/** extranonce1 of 0..7 bytes and extranonce2Size = 8 − its bytes (the nonce is 8 bytes); else why not. */
function parseExtranonce(e1: unknown, size: unknown): { extranonce1Hex: string; extranonce2Size: number } | string {
  if (typeof e1 !== 'string' || !EXTRANONCE1_RE.test(e1)) return 'extranonce1 must be 0..7 bytes of hex'
  if (size !== 8 - e1.length / 2) return 'extranonce2Size must be 8 minus the bytes of extranonce1'
  return { extranonce1Hex: e1.toLowerCase(), extranonce2Size: size }
}

function parseReconnect(p: unknown[]): ServerMessage {
  const [host, port, wait] = p
  const bad = (why: string): ServerMessage => ({ kind: 'invalid', reason: `client.reconnect: ${why}` })
  let h: string | undefined
  if (host !== undefined && host !== null && host !== '') {
    if (typeof host !== 'string' || host.length > HOST_CHARS_MAX + 2) return bad('host must be a host name or address')
    h = host.replace(/^\[(.*)\]$/, '$1')
    if (!HOST_RE.test(h)) return bad('host must be a host name or address')
  }
  let prt: number | undefined
  if (port !== undefined && port !== null && port !== 0) {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return bad('port must be an integer 1..65535')
    prt = port
  }
  let waitSeconds = 0
  if (wait !== undefined && wait !== null) {
    if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) return bad('waitSeconds must be a number >= 0')
    waitSeconds = Math.min(wait, RECONNECT_WAIT_SECONDS_MAX)
  }
  return { kind: 'reconnect', host: h, port: prt, waitSeconds }
}

/** mining.subscribe's result `[sessionId, extranonce1Hex, extranonce2Size]`, or why it is not one. */
export function parseSubscribeResult(r: unknown): Subscription | string {
  if (!Array.isArray(r)) return 'mining.subscribe: the result is not an array'
  const [sessionId, e1, size] = r
  if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > SESSION_ID_CHARS_MAX) {
    return `mining.subscribe: sessionId must be a string of 1..${SESSION_ID_CHARS_MAX} characters`
  }
  const e = parseExtranonce(e1, size)
  if (typeof e === 'string') return `mining.subscribe: ${e}`
  return { sessionId, ...e }
}

/** A result as a short, printable JSON text (for a message about an unexpected result). */
export function resultText(r: unknown): string {
  return clean(JSON.stringify(r) ?? String(r), RPC_MESSAGE_CHARS_MAX)
}

function known(method: string): string {
  return method.length <= 32 ? cleanText(method) : 'a notification'
}

function cleanText(s: string): string {
  return s.replace(CONTROL_RE, ' ')
}

function clean(s: string, charsMax: number): string {
  return cleanText(s.length > charsMax ? s.slice(0, charsMax) : s)
}
