// The chain's clock as this process last saw it: ledger sequence and close time
// (ledger time, unix seconds — on a devnet it runs faster than the wall clock).
// Everyone who learns a newer ledger feeds it; waiters wake once per new ledger,
// so a thousand pending transactions cost one timer, not a thousand.
//
// One RPC answer must not move it far ahead: a node (or a proxy) that once said
// latestLedger = 2e9 froze it there — close time stuck, every maxTime in the
// past, every later ledger "not newer". A ledger is accepted only when it is at
// most what the chain can have closed since the last accepted one (by the wall
// clock, at twice the nominal rate) plus a little slack; else it is ignored.
import type { Logger } from '../log.js'

/** Ledgers an answer may be ahead of what the wall clock allows (nodes disagree by a few). */
export const LEDGERS_AHEAD_SLACK = 12
/** Fastest ledger rate the clock believes, in wall ms per ledger: half the nominal, at most 1 s (mainnet closes every ~5 s). */
const LEDGER_MS_FASTEST_MAX = 1000
/** One warning per this many wall ms about ignored answers. */
const IMPLAUSIBLE_WARN_EVERY_MS = 60_000

export interface LedgerClockOptions {
  /** nominal wall ms per ledger of the network */
  ledgerMs?: number
  log?: Logger
}

export class LedgerClock {
  ledger = 0
  /** close time of `ledger`, unix seconds (ledger time) */
  closeTime = 0
  private waiters: Array<() => void> = []
  /** wall time (ms) `ledger` was accepted */
  private acceptedAtMs = 0
  private readonly ledgerMsFastest: number
  private warnedAtMs = -Infinity
  private ignored = 0

  constructor(private readonly o: LedgerClockOptions = {}) {
    const nominal = o.ledgerMs !== undefined && o.ledgerMs > 0 ? o.ledgerMs : 5000
    this.ledgerMsFastest = Math.min(LEDGER_MS_FASTEST_MAX, nominal / 2)
  }

  /** Whether `ledger` can be true, given the last accepted one and the wall time since. */
  plausible(ledger: number, nowMs = Date.now()): boolean {
    if (this.ledger === 0 || ledger <= this.ledger) return true
    const aheadMax = Math.floor((nowMs - this.acceptedAtMs) / this.ledgerMsFastest) + LEDGERS_AHEAD_SLACK
    return ledger - this.ledger <= aheadMax
  }

  /**
   * Records a ledger seen in any RPC answer; wakes waiters when it is newer.
   * Returns false when the answer was ignored as implausibly far ahead.
   */
  observe(ledger: number, closeTime?: number): boolean {
    if (!Number.isInteger(ledger) || ledger <= this.ledger) {
      if (ledger === this.ledger && closeTime !== undefined && closeTime > this.closeTime) this.closeTime = closeTime
      return true
    }
    const now = Date.now()
    if (!this.plausible(ledger, now)) {
      this.ignored++
      if (now - this.warnedAtMs >= IMPLAUSIBLE_WARN_EVERY_MS) {
        this.warnedAtMs = now
        this.o.log?.warn({ ledger, accepted: this.ledger, ignored: this.ignored }, 'RPC answer names a ledger implausibly far ahead: ignored')
        this.ignored = 0
      }
      return false
    }
    this.ledger = ledger
    this.acceptedAtMs = now
    if (closeTime !== undefined && Number.isFinite(closeTime) && closeTime >= this.closeTime) this.closeTime = closeTime
    const w = this.waiters
    this.waiters = []
    for (const wake of w) wake()
    return true
  }

  /** Resolves on the next newer ledger, or after `timeoutMs` (whichever first). */
  next(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs)
      const self = this
      function done(): void {
        clearTimeout(timer)
        const i = self.waiters.indexOf(done)
        if (i >= 0) self.waiters.splice(i, 1)
        resolve()
      }
      this.waiters.push(done)
    })
  }
}
