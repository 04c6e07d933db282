// The chain's clock as this process last saw it: ledger sequence and close time
// (ledger time, unix seconds — on a devnet it runs faster than the wall clock).
// Everyone who learns a newer ledger feeds it; waiters wake once per new ledger,
// so a thousand pending transactions cost one timer, not a thousand.
//
// One RPC answer must not move it far: a node (or a proxy) that once said
// latestLedger = 2e9 froze it there — close time stuck, every maxTime in the
// past, every later ledger "not newer". A ledger is accepted only when it is at
// most what the chain can have closed since the last accepted one (by the wall
// clock, at twice the nominal rate) plus a little slack; a close time only when
// it is at most CLOSE_SECONDS_PER_LEDGER_MAX per ledger past the last one.
// Answers outside the bound are ignored, unless they keep coming consistently:
// REANCHOR_ANSWERS of them, advancing, over REANCHOR_LEDGERS nominal ledgers —
// the clock was wrong, not they (a node that was catching up when the pool
// started, or a bogus first answer the clock took). Then it re-anchors there,
// ahead or, when more than REANCHOR_BEHIND_LEDGERS behind, back.
import type { Logger } from '../log.js'

/** Ledgers an answer may be ahead of what the wall clock allows (nodes disagree by a few). */
export const LEDGERS_AHEAD_SLACK = 12
/** Fastest ledger rate the clock believes, in wall ms per ledger: half the nominal, at most 1 s (mainnet closes every ~5 s). */
const LEDGER_MS_FASTEST_MAX = 1000
/** Ledger seconds a close time may advance per ledger at most (Stellar closes every ~5 s). */
export const CLOSE_SECONDS_PER_LEDGER_MAX = 60
/** Consistent out-of-bound answers that re-anchor the clock. */
export const REANCHOR_ANSWERS = 3
/** … over at least this many nominal ledgers of wall time. */
const REANCHOR_LEDGERS = 2
/** Answers this far behind the clock may re-anchor it back (a lagging node's few ledgers never do). */
export const REANCHOR_BEHIND_LEDGERS = 1000
/** One warning per this many wall ms about ignored answers. */
const IMPLAUSIBLE_WARN_EVERY_MS = 60_000

export interface LedgerClockOptions {
  /** nominal wall ms per ledger of the network */
  ledgerMs?: number
  log?: Logger
  /** wall clock in ms (tests) */
  now?: () => number
}

/** Out-of-bound answers seen in a row, consistent with each other. */
interface Run {
  first: number
  last: number
  firstMs: number
  lastMs: number
  count: number
}

export class LedgerClock {
  ledger = 0
  /** close time of `ledger`, unix seconds (ledger time) */
  closeTime = 0
  /** the ledger `closeTime` was given with (answers without a close time move `ledger` only) */
  private closeTimeLedger = 0
  private waiters: Array<() => void> = []
  /** wall time (ms) `ledger` was accepted */
  private acceptedAtMs = 0
  private readonly ledgerMsNominal: number
  private readonly ledgerMsFastest: number
  private readonly now: () => number
  private run: Run | undefined
  private warnedAtMs = -Infinity
  private ignored = 0

  constructor(private readonly o: LedgerClockOptions = {}) {
    this.ledgerMsNominal = o.ledgerMs !== undefined && o.ledgerMs > 0 ? o.ledgerMs : 5000
    this.ledgerMsFastest = Math.min(LEDGER_MS_FASTEST_MAX, this.ledgerMsNominal / 2)
    this.now = o.now ?? Date.now
  }

  /** Ledgers the chain can have closed in `ms` of wall time, plus the slack. */
  private aheadMax(ms: number): number {
    return Math.floor(ms / this.ledgerMsFastest) + LEDGERS_AHEAD_SLACK
  }

  /** Whether `ledger` can be true, given the last accepted one and the wall time since. */
  plausible(ledger: number, nowMs = this.now()): boolean {
    if (this.ledger === 0 || ledger <= this.ledger) return true
    return ledger - this.ledger <= this.aheadMax(nowMs - this.acceptedAtMs)
  }

  /**
   * Records a ledger seen in any RPC answer; wakes waiters when it is newer.
   * Returns false when the answer was ignored as out of bounds.
   */
  observe(ledger: number, closeTime?: number): boolean {
    if (!Number.isInteger(ledger)) return true
    const now = this.now()
    const farBehind = this.ledger - ledger > REANCHOR_BEHIND_LEDGERS
    if (ledger <= this.ledger && !farBehind) {
      if (ledger === this.ledger && this.closeTimePlausible(closeTime, ledger)) this.setCloseTime(closeTime, ledger)
      return true
    }
    if (farBehind || !this.plausible(ledger, now)) {
      if (!this.persists(ledger, now)) return this.ignore(ledger, now)
      this.o.log?.warn({ ledger, was: this.ledger }, 'RPC answers name a ledger out of the clock\'s bound consistently: the clock re-anchors there')
      this.accept(ledger, Number.isFinite(closeTime) ? closeTime : undefined, now)
      return true
    }
    this.accept(ledger, this.closeTimePlausible(closeTime, ledger) ? closeTime : undefined, now)
    return true
  }

  /** The close time of `ledger`: finite, not earlier, and not further ahead than the ledgers since the last close time can close. */
  private closeTimePlausible(closeTime: number | undefined, ledger: number): closeTime is number {
    if (closeTime === undefined || !Number.isFinite(closeTime) || closeTime < this.closeTime) return false
    return this.closeTime === 0 || closeTime - this.closeTime <= Math.max(1, ledger - this.closeTimeLedger) * CLOSE_SECONDS_PER_LEDGER_MAX
  }

  private setCloseTime(closeTime: number, ledger: number): void {
    this.closeTime = closeTime
    this.closeTimeLedger = ledger
  }

  private accept(ledger: number, closeTime: number | undefined, now: number): void {
    const back = ledger < this.ledger
    this.ledger = ledger
    this.acceptedAtMs = now
    this.run = undefined
    if (closeTime !== undefined && (back || closeTime >= this.closeTime)) this.setCloseTime(closeTime, ledger)
    const w = this.waiters
    this.waiters = []
    for (const wake of w) wake()
  }

  /** Counts an out-of-bound answer into the current run; true once the run re-anchors the clock. */
  private persists(ledger: number, now: number): boolean {
    const r = this.run
    const consistent = r !== undefined && ledger >= r.last && ledger - r.last <= this.aheadMax(now - r.lastMs)
    if (!consistent) {
      this.run = { first: ledger, last: ledger, firstMs: now, lastMs: now, count: 1 }
      return false
    }
    r.last = ledger
    r.lastMs = now
    r.count++
    // Advancing: a frozen bogus value (2e9 again and again) never re-anchors.
    return r.count >= REANCHOR_ANSWERS && r.last > r.first && now - r.firstMs >= REANCHOR_LEDGERS * this.ledgerMsNominal
  }

  private ignore(ledger: number, now: number): false {
    this.ignored++
    if (now - this.warnedAtMs >= IMPLAUSIBLE_WARN_EVERY_MS) {
      this.warnedAtMs = now
      this.o.log?.warn({ ledger, accepted: this.ledger, ignored: this.ignored }, 'RPC answer names a ledger implausibly far from the clock: ignored')
      this.ignored = 0
    }
    return false
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
