// pino logger: JSON to stdout, human-readable when stdout is a TTY, level from
// LOG_LEVEL. Secrets are never passed to the logger in the first place; the
// scrubbing below is the second fence: it runs only on lines that are actually
// written (pino checks the level first), so its cost never touches a silenced
// hot path.
import pino, { type Logger } from 'pino'

export type { Logger }

const CENSOR = '[redacted]'
/** Keys whose values are never written, at any depth (case-insensitive substring match). */
const SECRET_KEY = /secret|seed|password|passwd|token|masterkey|master_key|authorization|cookie|privatekey|private_key|databaseurl|database_url|apikey|api_key/i
/** A Stellar secret seed anywhere inside a string. */
const SEED = /S[A-Z2-7]{55}/g
/**
 * Credentials inside a URL: scheme://user:password@host → scheme://user:[redacted]@host.
 * Every part is bounded: an unbounded scheme made this quadratic (0.5 s on 16 KiB of letters).
 */
const URL_PASSWORD = /([a-z][a-z0-9+.-]{0,31}:\/\/[^\s:/@]{0,256}:)[^\s@/]{0,1024}@/gi
/** An HTTP bearer token in free text. */
const BEARER = /(bearer\s+)[^\s"',;]+/gi
/** Bound on the walk of one logged object: deeper or wider parts are cut, never walked unbounded. */
const DEPTH_MAX = 8
const KEYS_MAX = 200
const STRING_CHARS_MAX = 16_384

/** Secret values known to the process (ADMIN_TOKEN, MASTER_KEY, the DATABASE_URL password…), censored wherever they appear. */
const knownSecrets = new Set<string>()
/** Shorter values would censor ordinary words; config already demands ≥ 16 characters for tokens. */
const KNOWN_SECRET_CHARS_MIN = 6

/**
 * Registers secret values to censor verbatim in every later log line (the
 * config's secrets at start). A URL's password is registered, not the URL.
 */
export function registerSecrets(values: readonly (string | undefined)[]): void {
  for (const v of values) {
    if (v === undefined) continue
    let secret = v
    try {
      const u = new URL(v)
      if (u.password) secret = decodeURIComponent(u.password)
    } catch {
      // not a URL: the value itself is the secret
    }
    if (secret.length >= KNOWN_SECRET_CHARS_MIN) knownSecrets.add(secret)
  }
}

/** Removes seeds, URL passwords, bearer tokens and registered secrets from free text. */
export function scrubString(s: string): string {
  let t = s.length > STRING_CHARS_MAX ? `${s.slice(0, STRING_CHARS_MAX)}…[truncated]` : s
  t = t.replace(SEED, CENSOR).replace(URL_PASSWORD, `$1${CENSOR}@`).replace(BEARER, `$1${CENSOR}`)
  for (const secret of knownSecrets) if (t.includes(secret)) t = t.replaceAll(secret, CENSOR)
  return t
}

/** A plain, secret-free copy of an error: type, code, message, stack, details, cause. */
export function serializeError(err: unknown, depth = 0): Record<string, unknown> {
  // Already serialized (formatters.log runs before serializers): scrub it as data.
  if (err !== null && typeof err === 'object' && !(err instanceof Error)) return scrub(err, depth) as Record<string, unknown>
  if (!(err instanceof Error)) return { message: scrubString(String(err)) }
  const out: Record<string, unknown> = { type: err.name, message: scrubString(err.message) }
  const e = err as Error & { code?: unknown; details?: unknown; cause?: unknown }
  if (e.code !== undefined) out.code = scrub(e.code, depth + 1)
  if (err.stack) out.stack = scrubString(err.stack)
  if (e.details !== undefined) out.details = scrub(e.details, depth + 1)
  if (e.cause !== undefined && depth < 3) out.cause = serializeError(e.cause, depth + 1)
  return out
}

/** A copy of `value` with secret keys censored and secret-looking text scrubbed; bounded in depth and width. */
export function scrub(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return scrubString(value)
  if (typeof value === 'bigint') return value.toString()
  if (value === null || typeof value !== 'object') return value
  if (value instanceof Error) return serializeError(value, depth)
  if (depth >= DEPTH_MAX) return '[too deep]'
  if (seen.has(value)) return '[circular]'
  seen.add(value)
  if (Array.isArray(value)) return value.slice(0, KEYS_MAX).map((v) => scrub(v, depth + 1, seen))
  if (value instanceof Uint8Array) return `[${value.length} bytes]`
  if (value instanceof Date) return value.toISOString()
  if (value instanceof URL) return scrubString(value.href)
  const out: Record<string, unknown> = {}
  let n = 0
  for (const [k, v] of Object.entries(value)) {
    if (n++ >= KEYS_MAX) {
      out['…'] = 'truncated'
      break
    }
    out[k] = SECRET_KEY.test(k) ? CENSOR : scrub(v, depth + 1, seen)
  }
  return out
}

function options(level: string): pino.LoggerOptions {
  return {
    level,
    base: { name: 'kale-pool' },
    serializers: { err: (e: unknown) => serializeError(e), error: (e: unknown) => serializeError(e) },
    formatters: {
      bindings: (b) => scrub(b) as Record<string, unknown>,
      log: (o) => scrub(o) as Record<string, unknown>,
    },
    hooks: {
      // The message string and printf-style arguments are scrubbed too.
      // An Error as first argument becomes { err } plus its scrubbed message, so
      // pino never copies a raw err.message into msg.
      logMethod(args, method) {
        const clean: unknown[] = args.map((a) => (typeof a === 'string' ? scrubString(a) : a))
        const first = clean[0]
        if (first instanceof Error) {
          clean[0] = { err: serializeError(first) }
          if (clean.length === 1) clean.push(scrubString(first.message))
        }
        return method.apply(this, clean as Parameters<typeof method>)
      },
    },
  }
}

/**
 * The pool's logger. `destination` is for tests and tools; without it, JSON goes
 * to stdout (pretty-printed on a TTY, through pino-pretty's worker thread).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const opts = options(level)
  let logger: Logger
  if (destination) logger = pino(opts, destination)
  else if (process.stdout.isTTY) logger = pino({ ...opts, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } })
  else logger = pino(opts, pino.destination({ fd: 1, sync: false }))
  return scrubChildBindings(logger)
}

/**
 * pino serializes a child's bindings once, at child(), without formatters.bindings;
 * scrub them on the way in. Children are Object.create(parent), so they inherit
 * this child() and grandchildren are scrubbed too.
 */
function scrubChildBindings(logger: Logger): Logger {
  const child = logger.child
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, scrub(bindings) as typeof bindings, options)
  } as typeof logger.child
  return logger
}

/** A logger that discards everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
