// Regression (review finding 1, the clock): one answer naming ledger 2e9 froze
// the ledger clock there — its close time stuck, every later ledger "not newer".
import { describe, it, expect } from 'vitest'
import { LedgerClock, LEDGERS_AHEAD_SLACK } from '../../src/chain/clock.js'
import { LogCapture } from './harness.js'

describe('LedgerClock', () => {
  it('regression: ignores a ledger implausibly far ahead and keeps following the real ones', () => {
    const cap = new LogCapture()
    const clock = new LedgerClock({ ledgerMs: 5000, log: cap.logger })
    const accepted = [clock.observe(1000, 1_700_000_000), clock.observe(2_000_000_000, 1_700_000_005)]
    expect(clock.ledger).toBe(1000)
    accepted.push(clock.observe(1001, 1_700_000_005))
    expect(clock.ledger).toBe(1001)
    expect(clock.closeTime).toBe(1_700_000_005)
    expect(accepted).toEqual([true, false, true])
    expect(cap.text).toContain('implausibly far ahead')
  })
  it('accepts a small lead (nodes disagree by a few ledgers), and more as wall time passes', () => {
    const clock = new LedgerClock({ ledgerMs: 5000 })
    clock.observe(1000, 1)
    expect(clock.plausible(1000 + LEDGERS_AHEAD_SLACK)).toBe(true)
    expect(clock.plausible(1000 + LEDGERS_AHEAD_SLACK + 1)).toBe(false)
    // 60 s of wall time later: at most one ledger per second (twice mainnet's rate, capped)
    expect(clock.plausible(1000 + LEDGERS_AHEAD_SLACK + 60, Date.now() + 60_000)).toBe(true)
  })
})
