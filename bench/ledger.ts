// `npm run bench -- ledger [--events N] [--miners M] [--baseline-events B] [--json]`
//   ingest     share events through ShareBuffer (aggregated in memory, written as
//              multi-row upserts), timed until everything is committed
//   baseline   the same events as plain single-row INSERTs, one per event (what a
//              pool that writes every share does), same database, same run
//   split      the reward split of one block among 100 000 miners (median of 5)
//   plan       payouts planned per second (100 000 due miners, 1 000 sources)
// Database: DATABASE_URL when set, else the embedded PGlite (in memory).
import { randomBytes } from 'node:crypto'
import { Registry } from 'prom-client'
import { StrKey } from '@stellar/stellar-sdk'
import { parseArgs, intFlag } from '../src/args.js'
import type { ShareEvent } from '../src/events.js'
import { openDb } from '../src/ledger/db.js'
import { migrate } from '../src/ledger/migrate.js'
import { ShareBuffer } from '../src/ledger/shares.js'
import { splitReward, type MinerWeight } from '../src/ledger/rewards.js'
import { planPayouts, type Due, type Source } from '../src/ledger/payouts.js'
import { createMetrics } from '../src/metrics/metrics.js'
import { median, report } from './stats.js'

const SPLIT_MINERS = 100_000
const SPLIT_ROUNDS = 5
const PLAN_DUE = 100_000
const PLAN_SOURCES = 1_000
const PLAN_ROUNDS = 5

function address(i: number): string {
  const raw = Buffer.alloc(32)
  raw.writeUInt32BE(i, 0)
  return StrKey.encodeEd25519PublicKey(raw)
}

function makeEvents(n: number, miners: number): ShareEvent[] {
  const addrs = Array.from({ length: miners }, (_, i) => address(i))
  const farmers = Array.from({ length: 16 }, (_, i) => address(1_000_000 + i))
  const t0 = Date.now()
  const out: ShareEvent[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const m = i % miners
    out[i] = { block: 1000, farmer: farmers[m % farmers.length]!, payoutAddress: addrs[m]!, worker: `rig${(i >> 10) & 1}`, difficulty: 65536 * (1 + (m % 4)), zeros: 4 + (i % 5), at: t0 + (i % 1000) }
  }
  return out
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, ['events', 'miners', 'baseline-events'], ['json'])
  const eventsN = intFlag(args, 'events', 1000, 10_000_000, 200_000)
  const minersN = intFlag(args, 'miners', 1, 1_000_000, 1000)
  const baselineN = intFlag(args, 'baseline-events', 100, 1_000_000, 5_000)
  const url = process.env.DATABASE_URL || undefined
  const schema = `bench_ledger_${randomBytes(3).toString('hex')}`
  const db = await openDb({ databaseUrl: url, dataDir: null, poolMax: 2, ...(url ? { schema } : {}) })
  try {
    await migrate(db.sql)
    const events = makeEvents(eventsN, minersN)

    // ingest: aggregate + one flush of multi-row upserts, until committed
    const buf = new ShareBuffer({ sql: db.sql, flushMs: 60_000, rowsMax: 10_000_000, metrics: createMetrics(new Registry()) })
    const t0 = performance.now()
    for (const e of events) buf.add(e)
    const tAdded = performance.now()
    const flushed = await buf.stop(60_000)
    const tDone = performance.now()
    if (!flushed) throw new Error('ingest flush did not complete')
    const ingestPerSecond = eventsN / ((tDone - t0) / 1000)

    // baseline: one INSERT per event, awaited in turn
    await db.sql`CREATE TABLE bench_share_events (block int8, farmer text, miner text, worker text, difficulty numeric, zeros int4, at timestamptz)`
    const tb0 = performance.now()
    for (let i = 0; i < baselineN; i++) {
      const e = events[i % events.length]!
      await db.sql`INSERT INTO bench_share_events VALUES (${e.block}, ${e.farmer}, ${e.payoutAddress}, ${e.worker}, ${String(e.difficulty)}, ${e.zeros}, to_timestamp(${e.at} / 1000.0))`
    }
    const baselinePerSecond = baselineN / ((performance.now() - tb0) / 1000)

    // reward split of 100 000 miners
    const weights: MinerWeight[] = Array.from({ length: SPLIT_MINERS }, (_, i) => ({ miner: address(i), weight: BigInt(1 + ((i * 7919) % 1_000_003)) * 1_000_000n }))
    const splitMs: number[] = []
    for (let r = 0; r < SPLIT_ROUNDS; r++) {
      const s0 = performance.now()
      splitReward(250_000_000_000n, 10_000n, weights)
      splitMs.push(performance.now() - s0)
    }

    // payouts planned per second
    const due: Due[] = weights.slice(0, PLAN_DUE).map((w, i) => ({ miner: w.miner, amountStroops: 1_000_000_000n + BigInt(i) }))
    const sources: Source[] = Array.from({ length: PLAN_SOURCES }, (_, i) => ({ publicKey: address(2_000_000 + i), availableStroops: 10n ** 15n }))
    const planMs: number[] = []
    let planned = 0
    for (let r = 0; r < PLAN_ROUNDS; r++) {
      const p0 = performance.now()
      planned = planPayouts(due, sources).reduce((a, b) => a + b.payments.length, 0)
      planMs.push(performance.now() - p0)
    }

    report(argv, 'ledger', {
      database: url ? 'postgresql (DATABASE_URL)' : 'embedded PGlite',
      events: eventsN,
      miners: minersN,
      ingestEventsPerSecond: Math.round(ingestPerSecond),
      ingestAddMs: Math.round(tAdded - t0),
      ingestFlushMs: Math.round(tDone - tAdded),
      baselineSingleInsertsPerSecond: Math.round(baselinePerSecond),
      ingestVsBaseline: Number((ingestPerSecond / baselinePerSecond).toFixed(1)),
      ingestGoalMet: ingestPerSecond >= 100_000,
      split100kMinersMs: Number(median(splitMs).toFixed(1)),
      splitGoalMet: median(splitMs) < 1000,
      payoutsPlannedPerSecond: Math.round(planned / (median(planMs) / 1000)),
      payoutsPlanned: planned,
    })
  } finally {
    if (url) await db.sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
    await db.close()
  }
}
