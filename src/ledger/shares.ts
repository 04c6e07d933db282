// Share intake: accepted shares are summed in memory per (block, farmer, miner,
// worker) — and per (minute, miner, worker) for hashrates — and written as one
// multi-row upsert per SHARE_FLUSH_MS (rule 6: batch on our own clock).
//
// Nothing lost, nothing doubled:
// - while the database is away, add() keeps aggregating up to rowsMax buffered
//   rows (pending + in flight); beyond that it returns false and the submit
//   answers "busy" (rule 7). Everything is written once the database returns.
// - a flush freezes its rows into a batch with a random id, inserted into
//   share_flushes in the same transaction as the upserts. If the COMMIT's outcome
//   is unknown (connection lost mid-commit), the batch is retried as is: when the
//   id is already there, the earlier attempt committed and the retry writes nothing.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { Sql, Tx } from './db.js'
import type { ShareEvent, ShareSink } from '../events.js'
import type { Logger } from '../log.js'
import { silentLogger } from '../log.js'
import { metrics as defaultMetrics, type Metrics } from '../metrics/metrics.js'
import { difficultyToMicro, microToNumeric } from './amounts.js'

export interface ShareRow {
  block: number
  farmer: string
  miner: string
  worker: string
  /** summed difficulty in millionths (amounts.ts) */
  micro: bigint
  shares: number
  bestZeros: number
  firstAt: number
  lastAt: number
}

export interface MinuteRow {
  /** unix ms, start of the minute */
  minute: number
  miner: string
  worker: string
  micro: bigint
  shares: number
}

export interface ShareBatch {
  id: string
  rows: ShareRow[]
  minutes: MinuteRow[]
}

export interface ShareBufferOptions {
  sql: Sql
  flushMs: number
  /** SHARE_BUFFER_ROWS_MAX: buffered rows (pending + in flight) at most */
  rowsMax: number
  /** Rows per INSERT statement (all of a batch's statements share one transaction). */
  statementRowsMax?: number
  /**
   * A flush not done by then counts as failed and its batch is retried (same id).
   * Guards against a connection that hangs without an error (a silent network
   * partition): should the first attempt commit after all, the retry finds its
   * id and writes nothing.
   */
  flushTimeoutMs?: number
  log?: Logger
  metrics?: Metrics
}

const STATEMENT_ROWS_MAX = 20_000
const MINUTE_MS = 60_000
const NAME_CHARS_MAX = 128
const ZEROS_MAX = 64
/** share_flushes rows older than this are pruned: no batch is retried that long. */
const FLUSH_IDS_KEEP_HOURS = 24
const STOP_RETRY_MS = 200
const FLUSH_TIMEOUT_MS = 30_000

/** A pending row also carries its current minute bucket (hashrate rows are derived at flush). */
interface PendingRow extends ShareRow {
  minute: number
  minuteMicro: bigint
  minuteShares: number
}

type ByBlock = Map<number, PendingRow>
type ByFarmer = Map<string, ByBlock>
type ByWorker = Map<string, ByFarmer>

export class ShareBuffer implements ShareSink {
  // Nested maps keyed by the event's own strings (miner → worker → farmer →
  // block): V8 caches a string's hash, so a lookup hashes nothing new, where a
  // concatenated key per event built and hashed a fresh ~130-character string.
  // With the minute bucket kept in the row instead of a second map, add() went
  // from ~0.2 M to ~2-4 M events/s on this machine (same run, same events).
  private pending = new Map<string, ByWorker>()
  private pendingRows = 0
  /** minute buckets rows moved past, summed per (minute, miner, worker): touched once a minute per row, not per share */
  private closedMinutes = new Map<string, MinuteRow>()
  private inflight: ShareBatch | null = null
  private flushing: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  private lastDifficulty = NaN
  private lastMicro = 0n
  /** false after a failed flush: no early flushes until the timer's next attempt succeeds */
  private healthy = true
  private readonly flushRowsTrigger: number
  private readonly statementRowsMax: number
  private readonly log: Logger
  private readonly m: Metrics
  lastError: Error | null = null

  constructor(private readonly o: ShareBufferOptions) {
    assert(o.rowsMax >= 2 && o.flushMs > 0)
    this.flushRowsTrigger = Math.max(1, Math.floor(o.rowsMax / 4))
    this.statementRowsMax = o.statementRowsMax ?? STATEMENT_ROWS_MAX
    this.log = o.log ?? silentLogger()
    this.m = o.metrics ?? defaultMetrics()
  }

  /** Rows held in memory, not yet committed (share rows and closed minute buckets). */
  get bufferedRows(): number {
    return this.pendingRows + this.closedMinutes.size + (this.inflight ? this.inflight.rows.length + this.inflight.minutes.length : 0)
  }

  /** Lowest block with shares not yet committed (null when all are written): its reward must wait. */
  lowestBufferedBlock(): number | null {
    let low: number | null = null
    for (const r of this.pendingValues()) if (low === null || r.block < low) low = r.block
    for (const r of this.inflight?.rows ?? []) if (low === null || r.block < low) low = r.block
    return low
  }

  /** Takes one accepted share; false = buffer full (the submit answers busy). */
  add(s: ShareEvent): boolean {
    const ok =
      Number.isSafeInteger(s.block) && s.block >= 0 &&
      Number.isInteger(s.zeros) && s.zeros >= 0 && s.zeros <= ZEROS_MAX &&
      s.farmer.length > 0 && s.farmer.length <= NAME_CHARS_MAX &&
      s.payoutAddress.length > 0 && s.payoutAddress.length <= NAME_CHARS_MAX &&
      s.worker.length > 0 && s.worker.length <= NAME_CHARS_MAX &&
      Number.isFinite(s.at)
    assert(ok, 'malformed share event')
    // Sessions keep one difficulty for many shares: convert each value once.
    if (s.difficulty !== this.lastDifficulty) {
      this.lastMicro = difficultyToMicro(s.difficulty)
      this.lastDifficulty = s.difficulty
    }
    const micro = this.lastMicro
    const minute = s.at - (s.at % MINUTE_MS)
    const byWorker = this.pending.get(s.payoutAddress)
    const byFarmer = byWorker?.get(s.worker)
    const byBlock = byFarmer?.get(s.farmer)
    const row = byBlock?.get(s.block)
    if (!row) {
      if (this.bufferedRows + 1 > this.o.rowsMax) return false
      this.insert(s, micro, minute, byWorker, byFarmer, byBlock)
      if (this.healthy && this.flushing === null && this.pendingRows >= this.flushRowsTrigger) void this.flush()
      return true
    }
    if (minute !== row.minute && !this.closeMinute(row, minute)) return false
    row.micro += micro
    row.shares++
    row.minuteMicro += micro
    row.minuteShares++
    if (s.zeros > row.bestZeros) row.bestZeros = s.zeros
    if (s.at < row.firstAt) row.firstAt = s.at
    if (s.at > row.lastAt) row.lastAt = s.at
    return true
  }

  /** Moves a row's minute bucket aside when its shares enter another minute; false = buffer full. */
  private closeMinute(row: PendingRow, minute: number): boolean {
    const k = `${row.minute}\t${row.miner}\t${row.worker}`
    const had = this.closedMinutes.get(k)
    if (had) {
      had.micro += row.minuteMicro
      had.shares += row.minuteShares
    } else {
      if (this.bufferedRows + 1 > this.o.rowsMax) return false
      this.closedMinutes.set(k, { minute: row.minute, miner: row.miner, worker: row.worker, micro: row.minuteMicro, shares: row.minuteShares })
    }
    row.minute = minute
    row.minuteMicro = 0n
    row.minuteShares = 0
    return true
  }

  private insert(s: ShareEvent, micro: bigint, minute: number, byWorker: ByWorker | undefined, byFarmer: ByFarmer | undefined, byBlock: ByBlock | undefined): void {
    if (!byWorker) this.pending.set(s.payoutAddress, (byWorker = new Map()))
    if (!byFarmer) byWorker.set(s.worker, (byFarmer = new Map()))
    if (!byBlock) byFarmer.set(s.farmer, (byBlock = new Map()))
    byBlock.set(s.block, {
      block: s.block, farmer: s.farmer, miner: s.payoutAddress, worker: s.worker, micro, shares: 1, bestZeros: s.zeros,
      firstAt: s.at, lastAt: s.at, minute, minuteMicro: micro, minuteShares: 1,
    })
    this.pendingRows++
  }

  private *pendingValues(): Generator<PendingRow> {
    for (const byWorker of this.pending.values()) for (const byFarmer of byWorker.values()) for (const byBlock of byFarmer.values()) yield* byBlock.values()
  }

  /** Freezes what is pending into a batch: share rows plus minute rows summed per (minute, miner, worker). */
  private takeBatch(): ShareBatch {
    const rows: ShareRow[] = []
    const minutes = new Map<string, MinuteRow>()
    const addMinute = (m: MinuteRow): void => {
      const k = `${m.minute}\t${m.miner}\t${m.worker}`
      const had = minutes.get(k)
      if (had) {
        had.micro += m.micro
        had.shares += m.shares
      } else minutes.set(k, { ...m })
    }
    for (const m of this.closedMinutes.values()) addMinute(m)
    for (const r of this.pendingValues()) {
      rows.push({ block: r.block, farmer: r.farmer, miner: r.miner, worker: r.worker, micro: r.micro, shares: r.shares, bestZeros: r.bestZeros, firstAt: r.firstAt, lastAt: r.lastAt })
      if (r.minuteShares > 0) addMinute({ minute: r.minute, miner: r.miner, worker: r.worker, micro: r.minuteMicro, shares: r.minuteShares })
    }
    this.pending = new Map()
    this.pendingRows = 0
    this.closedMinutes = new Map()
    return { id: randomUUID(), rows, minutes: [...minutes.values()] }
  }

  /** Flushes every SHARE_FLUSH_MS until stop(). */
  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => void this.flush(), this.o.flushMs)
    this.timer.unref()
  }

  /**
   * One flush attempt (single flight: concurrent callers share it). Resolves
   * either way; `lastError` and the metrics tell whether it failed.
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = null
    })
    return this.flushing
  }

  /** Stops the timer and flushes everything; false if the database stayed away past `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<boolean> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    const deadline = Date.now() + timeoutMs
    for (;;) {
      await this.flush()
      if (this.bufferedRows === 0) return true
      if (Date.now() + STOP_RETRY_MS > deadline) return false
      await new Promise((r) => setTimeout(r, STOP_RETRY_MS))
    }
  }

  private async flushOnce(): Promise<void> {
    if (!this.inflight) {
      if (this.pendingRows === 0 && this.closedMinutes.size === 0) return
      this.inflight = this.takeBatch()
    }
    const batch = this.inflight
    const started = performance.now()
    let timer: NodeJS.Timeout | undefined
    try {
      const timeoutMs = this.o.flushTimeoutMs ?? FLUSH_TIMEOUT_MS
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`share flush timed out after ${timeoutMs} ms`)), timeoutMs)
      })
      const write = writeShareBatch(this.o.sql, batch, this.statementRowsMax)
      write.catch(() => undefined) // a timed-out attempt may still fail later: nobody waits for it
      await Promise.race([write, timeout])
      this.inflight = null
      this.healthy = true
      this.lastError = null
      this.m.dbFlushSeconds.observe((performance.now() - started) / 1000)
    } catch (err) {
      this.healthy = false
      this.lastError = err instanceof Error ? err : new Error(String(err))
      this.m.dbErrorsTotal.inc()
      this.log.warn({ err: this.lastError.message, rows: this.bufferedRows }, 'share flush failed; keeping rows buffered')
    } finally {
      clearTimeout(timer)
      this.m.dbBufferedRows.set(this.bufferedRows)
    }
  }
}

const byShareKey = (a: ShareRow, b: ShareRow): number =>
  a.block - b.block || cmp(a.farmer, b.farmer) || cmp(a.miner, b.miner) || cmp(a.worker, b.worker)
const byMinuteKey = (a: MinuteRow, b: MinuteRow): number => a.minute - b.minute || cmp(a.miner, b.miner) || cmp(a.worker, b.worker)
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Writes one batch in one transaction, idempotently by batch id. Rows are sorted
 * so concurrent writers (several pool nodes) lock rows in the same order.
 * Returns false when the batch had already been committed.
 */
export async function writeShareBatch(sql: Sql, batch: ShareBatch, statementRowsMax = STATEMENT_ROWS_MAX): Promise<boolean> {
  const rows = [...batch.rows].sort(byShareKey)
  const minutes = [...batch.minutes].sort(byMinuteKey)
  return sql.begin(async (tx) => {
    const claimed = await tx`INSERT INTO share_flushes (id, rows) VALUES (${batch.id}, ${rows.length}) ON CONFLICT (id) DO NOTHING RETURNING id`
    if (claimed.length === 0) return false
    await upsertMiners(tx, rows)
    for (let i = 0; i < rows.length; i += statementRowsMax) await upsertTotals(tx, rows.slice(i, i + statementRowsMax))
    for (let i = 0; i < minutes.length; i += statementRowsMax) await upsertMinutes(tx, minutes.slice(i, i + statementRowsMax))
    // Rare housekeeping: ids older than any retry can be.
    if (Math.random() < 0.01) await tx`DELETE FROM share_flushes WHERE flushed_at < now() - make_interval(hours => ${FLUSH_IDS_KEEP_HOURS})`
    return true
  }) as Promise<boolean>
}


async function upsertTotals(tx: Tx, rows: ShareRow[]): Promise<void> {
  const col = <T>(f: (r: ShareRow) => T): T[] => rows.map(f)
  await tx`
    INSERT INTO share_totals AS t (block, farmer, miner, worker, difficulty, shares, best_zeros, first_at, last_at)
    SELECT b, f, m, w, d, n, z, to_timestamp(fa / 1000.0), to_timestamp(la / 1000.0)
    FROM unnest(${col((r) => String(r.block))}::int8[], ${col((r) => r.farmer)}::text[], ${col((r) => r.miner)}::text[],
                ${col((r) => r.worker)}::text[], ${col((r) => microToNumeric(r.micro))}::numeric[], ${col((r) => String(r.shares))}::int8[],
                ${col((r) => String(r.bestZeros))}::int4[], ${col((r) => String(r.firstAt))}::int8[], ${col((r) => String(r.lastAt))}::int8[])
         AS u (b, f, m, w, d, n, z, fa, la)
    ON CONFLICT (block, farmer, miner, worker) DO UPDATE SET
      difficulty = t.difficulty + excluded.difficulty,
      shares = t.shares + excluded.shares,
      best_zeros = greatest(t.best_zeros, excluded.best_zeros),
      first_at = least(t.first_at, excluded.first_at),
      last_at = greatest(t.last_at, excluded.last_at)`
}

async function upsertMinutes(tx: Tx, rows: MinuteRow[]): Promise<void> {
  const col = <T>(f: (r: MinuteRow) => T): T[] => rows.map(f)
  await tx`
    INSERT INTO share_minutes AS t (minute, miner, worker, difficulty, shares)
    SELECT to_timestamp(mi / 1000.0), m, w, d, n
    FROM unnest(${col((r) => String(r.minute))}::int8[], ${col((r) => r.miner)}::text[], ${col((r) => r.worker)}::text[],
                ${col((r) => microToNumeric(r.micro))}::numeric[], ${col((r) => String(r.shares))}::int8[]) AS u (mi, m, w, d, n)
    ON CONFLICT (minute, miner, worker) DO UPDATE SET
      difficulty = t.difficulty + excluded.difficulty,
      shares = t.shares + excluded.shares`
}

async function upsertMiners(tx: Tx, rows: ShareRow[]): Promise<void> {
  const miners = new Map<string, { first: number; last: number }>()
  const workers = new Map<string, { miner: string; worker: string; first: number; last: number }>()
  for (const r of rows) {
    const m = miners.get(r.miner)
    if (!m) miners.set(r.miner, { first: r.firstAt, last: r.lastAt })
    else {
      m.first = Math.min(m.first, r.firstAt)
      m.last = Math.max(m.last, r.lastAt)
    }
    const wk = `${r.miner}\t${r.worker}`
    const w = workers.get(wk)
    if (!w) workers.set(wk, { miner: r.miner, worker: r.worker, first: r.firstAt, last: r.lastAt })
    else {
      w.first = Math.min(w.first, r.firstAt)
      w.last = Math.max(w.last, r.lastAt)
    }
  }
  const ms = [...miners.entries()].sort((a, b) => cmp(a[0], b[0]))
  const ws = [...workers.values()].sort((a, b) => cmp(a.miner, b.miner) || cmp(a.worker, b.worker))
  if (ms.length === 0) return
  await tx`
    INSERT INTO miners AS t (address, first_share_at, last_share_at)
    SELECT a, to_timestamp(f / 1000.0), to_timestamp(l / 1000.0)
    FROM unnest(${ms.map((x) => x[0])}::text[], ${ms.map((x) => String(x[1].first))}::int8[], ${ms.map((x) => String(x[1].last))}::int8[]) AS u (a, f, l)
    ON CONFLICT (address) DO UPDATE SET
      first_share_at = least(t.first_share_at, excluded.first_share_at),
      last_share_at = greatest(t.last_share_at, excluded.last_share_at)`
  await tx`
    INSERT INTO workers AS t (miner, name, first_share_at, last_share_at)
    SELECT m, w, to_timestamp(f / 1000.0), to_timestamp(l / 1000.0)
    FROM unnest(${ws.map((x) => x.miner)}::text[], ${ws.map((x) => x.worker)}::text[], ${ws.map((x) => String(x.first))}::int8[], ${ws.map((x) => String(x.last))}::int8[]) AS u (m, w, f, l)
    ON CONFLICT (miner, name) DO UPDATE SET
      first_share_at = least(t.first_share_at, excluded.first_share_at),
      last_share_at = greatest(t.last_share_at, excluded.last_share_at)`
}
