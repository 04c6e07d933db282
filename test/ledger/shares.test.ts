import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import type { ShareEvent } from '../../src/events.js'
import { openDb, type Db } from '../../src/ledger/db.js'
import { ShareBuffer, writeShareBatch } from '../../src/ledger/shares.js'
import { difficultyToMicro, numericToMicro, microToNumeric } from '../../src/ledger/amounts.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { DATABASE_URL, openTestDb, type TestDb } from './db.js'
import { startProxy, type Proxy } from './proxy.js'

const G = (i: number): string => `G${String(i).padStart(55, 'A')}`
const FARMERS = [G(900_001), G(900_002), G(900_003)]
const T0 = Date.UTC(2025, 0, 1)

function events(count: number, miners: number, seed = 1): ShareEvent[] {
  let x = seed
  const rnd = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const out: ShareEvent[] = []
  const diffs = [1, 1.5, 256, 65536, 3.141592, 2 ** 40, 2 ** 60, 1000.000001]
  for (let i = 0; i < count; i++) {
    const m = i % miners
    out.push({
      block: 100 + Math.floor(rnd() * 3),
      farmer: FARMERS[m % FARMERS.length]!,
      payoutAddress: G(m),
      worker: `w${Math.floor(rnd() * 2)}`,
      difficulty: diffs[Math.floor(rnd() * diffs.length)]!,
      zeros: Math.floor(rnd() * 12),
      at: T0 + Math.floor(rnd() * 180_000),
    })
  }
  return out
}

interface Total { micro: bigint; shares: bigint; bestZeros: number }
function expected(evs: ShareEvent[]): Map<string, Total> {
  const m = new Map<string, Total>()
  for (const e of evs) {
    const k = `${e.block}/${e.farmer}/${e.payoutAddress}/${e.worker}`
    const t = m.get(k) ?? { micro: 0n, shares: 0n, bestZeros: 0 }
    t.micro += difficultyToMicro(e.difficulty)
    t.shares++
    t.bestZeros = Math.max(t.bestZeros, e.zeros)
    m.set(k, t)
  }
  return m
}

async function totals(db: Db): Promise<Map<string, Total>> {
  const rows = await db.sql`SELECT block, farmer, miner, worker, difficulty::text AS d, shares, best_zeros FROM share_totals`
  return new Map(rows.map((r) => [`${r.block}/${r.farmer}/${r.miner}/${r.worker}`, { micro: numericToMicro(r.d as string), shares: r.shares as bigint, bestZeros: r.best_zeros as number }]))
}

async function clear(db: Db): Promise<void> {
  await db.sql`TRUNCATE share_totals, share_minutes, share_flushes, workers, miners`
}

// One database for the file (an embedded one takes seconds to start).
let db: TestDb
beforeAll(async () => {
  // the embedded server admits a second client: the proxied one below
  db = await openTestDb('shares', { embeddedConnectionsMax: 3 })
})
afterAll(async () => {
  await db?.dispose()
})

describe('share intake', () => {

  it('100 000 share events from 1 000 miners are flushed with exact totals', async () => {
    await clear(db)
    const evs = events(100_000, 1000)
    const buf = new ShareBuffer({ sql: db.sql, flushMs: 60_000, rowsMax: 1_000_000, metrics: createMetrics(new Registry()) })
    let refused = 0
    for (let i = 0; i < evs.length; i++) {
      if (!buf.add(evs[i]!)) refused++
      if (i === 50_000) await buf.flush() // two batches hitting the same rows
    }
    expect(refused).toBe(0)
    expect(await buf.stop()).toBe(true)
    expect(buf.bufferedRows).toBe(0)
    expect(await totals(db)).toEqual(expected(evs))
    const [minutes] = await db.sql`SELECT sum(shares)::int8 AS n, sum(difficulty)::text AS d FROM share_minutes`
    expect(minutes!.n).toBe(100_000n)
    expect(numericToMicro(minutes!.d as string)).toBe(evs.reduce((a, e) => a + difficultyToMicro(e.difficulty), 0n))
    const [miners] = await db.sql`SELECT count(*)::int AS n FROM miners`
    expect(miners!.n).toBe(1000)
    const [workers] = await db.sql`SELECT count(*)::int AS n FROM workers`
    expect(workers!.n).toBe(2000)
  })

  it('a batch written twice (COMMIT outcome unknown, retried) is counted once', async () => {
    await clear(db)
    const batch = {
      id: 'batch-retry-1',
      rows: [{ block: 7, farmer: FARMERS[0]!, miner: G(1), worker: 'w', micro: 2_500_000n, shares: 2, bestZeros: 5, firstAt: T0, lastAt: T0 + 1000 }],
      minutes: [{ minute: T0, miner: G(1), worker: 'w', micro: 2_500_000n, shares: 2 }],
    }
    expect(await writeShareBatch(db.sql, batch)).toBe(true)
    expect(await writeShareBatch(db.sql, batch)).toBe(false)
    const t = await totals(db)
    expect([...t.values()]).toEqual([{ micro: 2_500_000n, shares: 2n, bestZeros: 5 }])
  })

  it('keeps per-minute hashrate rows exact when shares of one row cross minutes back and forth', async () => {
    await clear(db)
    const buf = new ShareBuffer({ sql: db.sql, flushMs: 60_000, rowsMax: 400, metrics: createMetrics(new Registry()) })
    const base = { block: 5, farmer: FARMERS[0]!, payoutAddress: G(1), worker: 'w', zeros: 3 }
    const at = [0, 60_000, 1, 60_001, 120_000, 2, 59_999].map((t) => T0 + t)
    for (const t of at) expect(buf.add({ ...base, difficulty: 2, at: t })).toBe(true)
    expect(buf.bufferedRows).toBe(4) // one share row + three closed minute buckets; the current one rides in the row
    expect(await buf.stop()).toBe(true)
    const rows = await db.sql`SELECT extract(epoch FROM minute)::int8 * 1000 AS ms, shares, difficulty::text AS d FROM share_minutes ORDER BY minute`
    expect(rows.map((r) => [Number(r.ms) - T0, r.shares, r.d])).toEqual([[0, 4n, '8.000000'], [60_000, 2n, '4.000000'], [120_000, 1n, '2.000000']])
    const [t] = await db.sql`SELECT shares, first_at, last_at FROM share_totals`
    expect(t!.shares).toBe(7n)
    expect((t!.first_at as Date).getTime()).toBe(T0)
    expect((t!.last_at as Date).getTime()).toBe(T0 + 120_000)
  })

  it('quantises difficulty exactly to millionths, beyond 2^53 too', () => {
    expect(difficultyToMicro(1)).toBe(1_000_000n)
    expect(difficultyToMicro(1.5)).toBe(1_500_000n)
    expect(difficultyToMicro(2 ** 64)).toBe(2n ** 64n * 1_000_000n)
    expect(difficultyToMicro(3.1415926)).toBe(3_141_593n)
    expect(microToNumeric(3_141_593n)).toBe('3.141593')
    expect(numericToMicro('0.000001')).toBe(1n)
    expect(() => numericToMicro('1.0000001')).toThrow()
    expect(() => numericToMicro('abc')).toThrow()
  })

  it('refuses malformed events (bugs are asserts)', () => {
    const buf = new ShareBuffer({ sql: db.sql, flushMs: 60_000, rowsMax: 100, metrics: createMetrics(new Registry()) })
    const ok = events(1, 1)[0]!
    for (const bad of [
      { ...ok, block: -1 },
      { ...ok, block: 1.5 },
      { ...ok, difficulty: 0.5 },
      { ...ok, difficulty: NaN },
      { ...ok, difficulty: Infinity },
      { ...ok, zeros: 65 },
      { ...ok, worker: '' },
      { ...ok, payoutAddress: 'x'.repeat(500) },
      { ...ok, at: NaN },
    ]) {
      expect(() => buf.add(bad)).toThrow()
    }
    expect(buf.bufferedRows).toBe(0)
  })
})

describe('share intake while the database is away', () => {
  let proxy: Proxy | null = null
  let via: Db
  beforeAll(async () => {
    await clear(db)
    if (DATABASE_URL) {
      const u = new URL(DATABASE_URL)
      proxy = await startProxy(u.hostname, Number(u.port || 5432))
      u.hostname = '127.0.0.1'
      u.port = String(proxy.port)
      via = await openDb({ databaseUrl: u.toString(), dataDir: null, schema: db.schema, poolMax: 2, connectTimeoutSeconds: 1 })
    } else {
      via = db
    }
  })
  afterAll(async () => {
    if (via !== db) await via?.close()
    await proxy?.close()
  })
  const down = (): Promise<void> => (proxy ? proxy.cut() : db.embedded!.stop())
  const up = (): Promise<void> => (proxy ? proxy.restore() : db.embedded!.start())

  it('buffers, answers busy beyond the bound, then writes everything once, nothing doubled', async () => {
    const metrics = createMetrics(new Registry())
    const buf = new ShareBuffer({ sql: via.sql, flushMs: 50, rowsMax: 1000, metrics })
    const first = events(1000, 20, 2)
    for (const e of first) expect(buf.add(e)).toBe(true)
    await buf.flush()
    expect(buf.lastError).toBeNull()
    await down()
    buf.start()
    // while down: keep accepting (same rows aggregate without growing the buffer)
    const second = events(3000, 20, 3)
    for (const e of second) expect(buf.add(e)).toBe(true)
    await new Promise((r) => setTimeout(r, 300))
    await buf.flush()
    expect(buf.lastError).not.toBeNull()
    expect(buf.bufferedRows).toBeGreaterThan(0)
    expect(buf.lowestBufferedBlock()).toBe(100)
    // new miners make new rows until the bound: then busy
    const third: ShareEvent[] = []
    let busy = 0
    for (let i = 0; i < 1000 && busy === 0; i++) {
      const e = { ...second[0]!, payoutAddress: G(10_000 + i), at: T0 + i }
      if (buf.add(e)) third.push(e)
      else busy++
    }
    expect(busy).toBe(1)
    expect(buf.bufferedRows).toBeLessThanOrEqual(1000)
    expect((await metrics.dbErrorsTotal.get()).values[0]!.value).toBeGreaterThan(0)
    expect((await metrics.dbBufferedRows.get()).values[0]!.value).toBeGreaterThan(0)
    await up()
    expect(await buf.stop(20_000)).toBe(true)
    expect(buf.bufferedRows).toBe(0)
    expect(buf.lowestBufferedBlock()).toBeNull()
    expect(await totals(db)).toEqual(expected([...first, ...second, ...third]))
  })
})

describe('share intake over a connection that hangs', () => {
  it('times the flush out, keeps the rows, and writes them once the path is back', async () => {
    await clear(db)
    const target = DATABASE_URL ? new URL(DATABASE_URL) : null
    const proxy = await startProxy('127.0.0.1', target ? Number(target.port || 5432) : db.embedded!.port)
    const url = target ? Object.assign(new URL(DATABASE_URL!), { hostname: '127.0.0.1', port: String(proxy.port) }).toString() : `postgres://postgres:postgres@127.0.0.1:${proxy.port}/postgres`
    const via = await openDb({ databaseUrl: url, dataDir: null, poolMax: 1, connectTimeoutSeconds: 1, ...(DATABASE_URL ? { schema: db.schema } : {}) })
    try {
      const buf = new ShareBuffer({ sql: via.sql, flushMs: 60_000, rowsMax: 10_000, flushTimeoutMs: 500, metrics: createMetrics(new Registry()) })
      const evs = events(2000, 10, 7)
      for (const e of evs.slice(0, 1000)) buf.add(e)
      await buf.flush()
      expect(buf.lastError).toBeNull()
      proxy.freeze()
      for (const e of evs.slice(1000)) buf.add(e)
      const t0 = Date.now()
      await buf.flush()
      expect(Date.now() - t0).toBeLessThan(5000)
      expect(buf.lastError?.message).toMatch(/timed out/)
      expect(buf.bufferedRows).toBeGreaterThan(0)
      await proxy.cut() // the dead path is noticed: connections drop
      await proxy.restore()
      expect(await buf.stop(20_000)).toBe(true)
      expect(await totals(db)).toEqual(expected(evs))
    } finally {
      await via.close().catch(() => undefined)
      await proxy.close()
    }
  })
})
