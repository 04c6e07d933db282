// Newline framing over Buffers, bounded. Bytes stay in one pending Buffer and
// lines are cut from it lazily (`next()`), so a session handling a slow submit
// simply stops pulling lines; nothing is split into an unbounded array up front.
// A line longer than `lineBytesMax` (without its `\n`) is an error, also when
// its newline has not arrived yet (slow drip).

const NL = 0x0a
const CR = 0x0d
const EMPTY = Buffer.alloc(0)

export type NextLine = string | undefined | 'oversize'

export class LineFramer {
  private buf: Buffer = EMPTY
  private start = 0
  /** Bytes of `buf` already scanned without finding `\n` (avoids rescanning a drip). */
  private scanned = 0

  constructor(private readonly lineBytesMax: number) {}

  /** Bytes received but not yet handed out as lines. */
  get bufferedBytes(): number {
    return this.buf.length - this.start
  }

  push(chunk: Buffer): void {
    if (this.start >= this.buf.length) {
      this.buf = chunk
      this.start = 0
      this.scanned = 0
      return
    }
    // Compact: keep only the unconsumed tail (bounded by the caller's pause threshold).
    this.buf = Buffer.concat([this.buf.subarray(this.start), chunk])
    this.scanned -= this.start
    this.start = 0
  }

  /** The next complete line (empty lines skipped), undefined if none yet, 'oversize' if the bound is broken. */
  next(): NextLine {
    for (;;) {
      const from = Math.max(this.start, this.scanned)
      const nl = this.buf.indexOf(NL, from)
      if (nl < 0) {
        if (this.start >= this.buf.length) {
          // Drop the consumed chunk so an idle session holds no receive buffer.
          this.buf = EMPTY
          this.start = 0
          this.scanned = 0
          return undefined
        }
        this.scanned = this.buf.length
        // A trailing \r may be the start of the line's \r\n: it is not part of the line.
        const pending = this.buf.length - this.start - (this.buf[this.buf.length - 1] === CR ? 1 : 0)
        return pending > this.lineBytesMax ? 'oversize' : undefined
      }
      let end = nl
      if (end > this.start && this.buf[end - 1] === CR) end--
      const len = end - this.start
      const s = this.start
      this.start = nl + 1
      this.scanned = this.start
      if (len > this.lineBytesMax) return 'oversize'
      if (len === 0) continue
      return this.buf.toString('utf8', s, end)
    }
  }
}
