// The chain's clock as this process last saw it: ledger sequence and close time
// (ledger time, unix seconds — on a devnet it runs faster than the wall clock).
// Everyone who learns a newer ledger feeds it; waiters wake once per new ledger,
// so a thousand pending transactions cost one timer, not a thousand.

export class LedgerClock {
  ledger = 0
  /** close time of `ledger`, unix seconds (ledger time) */
  closeTime = 0
  private waiters: Array<() => void> = []

  /** Records a ledger seen in any RPC answer; wakes waiters when it is newer. */
  observe(ledger: number, closeTime?: number): void {
    if (!Number.isInteger(ledger) || ledger <= this.ledger) {
      if (ledger === this.ledger && closeTime !== undefined && closeTime > this.closeTime) this.closeTime = closeTime
      return
    }
    this.ledger = ledger
    if (closeTime !== undefined && Number.isFinite(closeTime) && closeTime >= this.closeTime) this.closeTime = closeTime
    const w = this.waiters
    this.waiters = []
    for (const wake of w) wake()
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
