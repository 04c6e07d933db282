// Transaction history that survives a devnet restart, as a real network's RPC
// history survives a client's crash: each close appends the closed ledger's
// getTransaction answers to DATA_DIR/devnet-txs.jsonl; a restart reloads the
// last RECORDS_LEDGERS_MAX ledgers of it. Without this, a pool restarted with
// its in-process devnet would see its own applied transactions as NOT_FOUND.
import fs from 'node:fs'
import path from 'node:path'

export const TX_LOG_FILE = 'devnet-txs.jsonl'
/** Rewrite the file keeping only retained ledgers once it grows past this. */
const COMPACT_BYTES = 32 * 1024 * 1024

interface Line {
  ledger: number
  closeTime: number
  txs: Array<{ hash: string; answer: Record<string, unknown> }>
}

export class TxLog {
  private readonly file: string
  private readonly answers = new Map<string, Record<string, unknown>>()
  private lines: Line[] = []
  private bytes = 0

  constructor(dir: string, private readonly ledgersMax: number) {
    fs.mkdirSync(dir, { recursive: true })
    this.file = path.join(dir, TX_LOG_FILE)
    if (!fs.existsSync(this.file)) return
    const all = fs.readFileSync(this.file, 'utf8')
    // end a torn last line so the next append starts a line of its own
    if (all.length > 0 && !all.endsWith('\n')) fs.appendFileSync(this.file, '\n')
    for (const text of all.split('\n')) {
      if (!text) continue
      try {
        this.lines.push(JSON.parse(text) as Line)
      } catch {
        // a torn last line from a crash mid-append: the ledger it held is lost, like an unsaved close
      }
    }
    this.trim()
    for (const l of this.lines) for (const t of l.txs) this.answers.set(t.hash, t.answer)
    this.bytes = fs.statSync(this.file).size
  }

  /** The oldest ledger whose transactions are known (and its close time), if any were reloaded. */
  get oldest(): { ledger: number; closeTime: number } | undefined {
    const l = this.lines[0]
    return l ? { ledger: l.ledger, closeTime: l.closeTime } : undefined
  }

  lookup(hash: string): Record<string, unknown> | undefined {
    return this.answers.get(hash)
  }

  append(ledger: number, closeTime: number, txs: Line['txs']): void {
    if (txs.length === 0) return
    const line: Line = { ledger, closeTime, txs }
    const text = JSON.stringify(line) + '\n'
    fs.appendFileSync(this.file, text)
    this.bytes += text.length
    this.lines.push(line)
    for (const t of txs) this.answers.set(t.hash, t.answer)
    if (this.trim() > 0 && this.bytes > COMPACT_BYTES) this.compact()
  }

  /** Drops ledgers older than the retention window; returns how many were dropped. */
  private trim(): number {
    const newest = this.lines[this.lines.length - 1]?.ledger ?? 0
    let dropped = 0
    while (this.lines.length > 0 && this.lines[0]!.ledger <= newest - this.ledgersMax) {
      for (const t of this.lines.shift()!.txs) this.answers.delete(t.hash)
      dropped++
    }
    return dropped
  }

  private compact(): void {
    const tmp = `${this.file}.${process.pid}.tmp`
    const text = this.lines.map((l) => JSON.stringify(l) + '\n').join('')
    fs.writeFileSync(tmp, text)
    fs.renameSync(tmp, this.file)
    this.bytes = text.length
  }
}
