// Regression (review finding 1, the clock): one answer naming ledger 2e9 froze
// the ledger clock there — its close time stuck, every later ledger "not newer".
import { describe, it, expect } from 'vitest'
import { LedgerClock, LEDGERS_AHEAD_SLACK, REANCHOR_ANSWERS, CLOSE_SECONDS_PER_LEDGER_MAX } from '../../src/chain/clock.js'
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
    expect(cap.text).toContain('implausibly far from the clock')
  })
  it('accepts a small lead (nodes disagree by a few ledgers), and more as wall time passes', () => {
    const clock = new LedgerClock({ ledgerMs: 5000 })
    clock.observe(1000, 1)
    expect(clock.plausible(1000 + LEDGERS_AHEAD_SLACK)).toBe(true)
    expect(clock.plausible(1000 + LEDGERS_AHEAD_SLACK + 1)).toBe(false)
    // 60 s of wall time later: at most one ledger per second (twice mainnet's rate, capped)
    expect(clock.plausible(1000 + LEDGERS_AHEAD_SLACK + 60, Date.now() + 60_000)).toBe(true)
  })

  // Regression (second review): the bound refused a node that was right and the
  // clock wrong — a node catching up when the pool started was refused for 610 s
  // once it caught up, and a bogus FIRST answer froze the clock for good.
  describe('re-anchoring', () => {
    const at = (): { clock: LedgerClock; tick: (ms: number) => void } => {
      let t = 1_000_000
      return { clock: new LedgerClock({ ledgerMs: 5000, now: () => t }), tick: (ms) => { t += ms } }
    }

    it('answers far ahead that keep coming and advance re-anchor it (a node that was catching up at start)', () => {
      const { clock, tick } = at()
      clock.observe(1000, 1_700_000_000)
      const seen = [5000, 5001, 5002].map((l) => { const ok = clock.observe(l, 1_700_020_000 + l); tick(5000); return ok })
      expect(REANCHOR_ANSWERS).toBe(3)
      expect(seen).toEqual([false, false, true])
      expect([clock.ledger, clock.closeTime]).toEqual([5002, 1_700_025_002])
    })

    it('the same bogus value again and again never does', () => {
      const { clock, tick } = at()
      clock.observe(1000, 1_700_000_000)
      for (let i = 0; i < 20; i++) {
        expect(clock.observe(2_000_000_000)).toBe(false)
        tick(5000)
      }
      expect(clock.ledger).toBe(1000)
    })

    it('a bogus first answer is left once the real ledgers keep coming, far behind it', () => {
      const { clock, tick } = at()
      clock.observe(2_000_000_000, 1_700_000_000)
      const seen = [1000, 1001, 1002].map((l) => { const ok = clock.observe(l, 1_600_000_000 + l * 5); tick(5000); return ok })
      expect(seen).toEqual([false, false, true])
      expect([clock.ledger, clock.closeTime]).toEqual([1002, 1_600_005_010])
      // A lagging node a few ledgers behind is just "not newer".
      expect(clock.observe(995)).toBe(true)
      expect(clock.ledger).toBe(1002)
    })

    it('a close time far ahead of its ledger is not taken; the next sane one is', () => {
      const { clock } = at()
      clock.observe(1000, 1_700_000_000)
      clock.observe(1001, 2_000_000_000)
      expect([clock.ledger, clock.closeTime]).toEqual([1001, 1_700_000_000])
      clock.observe(1001, 1_700_000_000 + CLOSE_SECONDS_PER_LEDGER_MAX + 1)
      expect(clock.closeTime).toBe(1_700_000_000)
      clock.observe(1002, 1_700_000_010)
      expect([clock.ledger, clock.closeTime]).toEqual([1002, 1_700_000_010])
      // Ledgers learned without a close time (simulations) widen the bound for the next close time.
      for (let l = 1003; l <= 1050; l++) clock.observe(l)
      clock.observe(1051, 1_700_000_010 + 49 * 5)
      expect([clock.ledger, clock.closeTime]).toEqual([1051, 1_700_000_255])
    })
  })
})
