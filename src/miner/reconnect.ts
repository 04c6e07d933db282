// When and where the Stratum client reconnects: decisions only (no sockets, no
// timers), so the policy reads whole and tests drive it without a pool.
//
// Reconnects back off exponentially (full jitter) and the backoff resets only
// after a connection stayed up for backoffResetMs: a pool that drops every
// connection right after login is not reconnected to at the minimum delay for
// ever. A client.reconnect's wait is a floor on the delay, never a shortcut, so
// "reconnect in 0 s" sent on every connection is no fast loop either. Its host
// and port hold until REDIRECT_ATTEMPTS_MAX attempts in a row there fail; then
// the client goes back to its configured url.

export interface Target {
  host: string
  port: number
  tls: boolean
}

export interface ReconnectOptions {
  backoffMsMin?: number
  backoffMsMax?: number
  /** A connection up this long resets the backoff; one dropped sooner lets it grow. */
  backoffResetMs?: number
}

export const BACKOFF_MS_MIN = 500
export const BACKOFF_MS_MAX = 30_000
/** backoffResetMs's default: a pool that keeps a connection this long is not dropping us on purpose. */
export const BACKOFF_RESET_MS = 30_000
/** Failed attempts in a row at a client.reconnect target before the client goes back to its url. */
export const REDIRECT_ATTEMPTS_MAX = 3

export class Reconnects {
  /** Where the next connection goes: home, or a client.reconnect's host and port. */
  target: Target
  /** Reconnects since a connection last stayed up for backoffResetMs: the backoff's exponent. */
  private attempt = 0
  /** Failed attempts in a row at a target other than home. */
  private redirectFailures = 0
  /** A client.reconnect's wait: the least the next reconnect waits. */
  private waitMs: number | undefined

  constructor(readonly home: Target, private readonly o: ReconnectOptions = {}) {
    this.target = home
  }

  /** connect() was called: a fresh start, at the current target. */
  restart(): void {
    this.attempt = 0
    this.waitMs = undefined
  }

  /** The pool sent client.reconnect: host and port undefined = the current ones. */
  requested(host: string | undefined, port: number | undefined, waitMs: number): void {
    if (host !== undefined || port !== undefined) {
      const h = host ?? this.target.host
      const p = port ?? this.target.port
      this.target = h === this.home.host && p === this.home.port ? this.home : { ...this.target, host: h, port: p }
      this.redirectFailures = 0
    }
    this.waitMs = waitMs
  }

  /** A connection became ready (subscribed and authorized). */
  opened(): void {
    this.redirectFailures = 0
  }

  /** A ready connection was lost after `upMs`. */
  lost(upMs: number): void {
    if (upMs >= (this.o.backoffResetMs ?? BACKOFF_RESET_MS)) this.attempt = 0
  }

  /** An attempt failed before it was ready; after REDIRECT_ATTEMPTS_MAX in a row at a redirect target, the next goes home. */
  failed(): void {
    if (this.target === this.home || ++this.redirectFailures < REDIRECT_ATTEMPTS_MAX) return
    this.target = this.home
    this.redirectFailures = 0
  }

  /** The delay before the next attempt: the backoff, or the pool's wait when that is longer. */
  nextDelayMs(): number {
    const backoff = backoffMs(this.attempt++, this.o.backoffMsMin ?? BACKOFF_MS_MIN, this.o.backoffMsMax ?? BACKOFF_MS_MAX)
    const delay = Math.max(this.waitMs ?? 0, backoff)
    this.waitMs = undefined
    return delay
  }
}

/** Exponential backoff with full jitter: uniform in [min, min(max, min·2^attempt)]. */
export function backoffMs(attempt: number, min: number, max: number): number {
  const cap = Math.min(max, min * 2 ** Math.min(Math.max(attempt, 0), 20))
  return min + Math.random() * (cap - min)
}
