// Read queries behind the JSON API (http/pool-view.ts defines LedgerReads).
// Every list is bounded by the caller's limit (the HTTP layer validates it) and
// by LIST_ROWS_MAX here as a second fence. Money stays bigint; difficulty sums
// become doubles only here, for display.
import type { LedgerReads } from '../http/pool-view.js'
import type { BlockRow, FarmerRow, MinerBlock, MinerDetail, MinerPayout, MinerWorker } from '../http/view.js'
import type { Sql } from './db.js'
import { microToNumber, numericToMicro, toBigInt } from './amounts.js'

export type { LedgerReads, BlockRow, FarmerRow, MinerBlock, MinerDetail, MinerPayout, MinerWorker }

const LIST_ROWS_MAX = 1000
const MINER_PAYOUTS_MAX = 50
const MS_PER_SECOND = 1000

const bound = (n: number): number => Math.max(1, Math.min(LIST_ROWS_MAX, Math.floor(n)))
const diffOf = (text: string | null): number => (text === null ? 0 : microToNumber(numericToMicro(text)))

export function createLedgerReads(sql: Sql, now: () => number = Date.now): LedgerReads {
  return {
    async recentShares(sinceMs) {
      const [r] = await sql<{ d: string | null; miners: number; workers: number }[]>`
        SELECT sum(difficulty)::text AS d, count(DISTINCT miner)::int AS miners, count(DISTINCT (miner, worker))::int AS workers
        FROM share_minutes WHERE minute >= to_timestamp(${sinceMs} / 1000.0)`
      return { difficulty: diffOf(r!.d), miners: r!.miners, workers: r!.workers }
    },

    async paidStroops() {
      const [r] = await sql<{ s: string }[]>`
        SELECT coalesce(sum(e.amount_stroops), 0)::text AS s FROM payout_entries e JOIN payouts p ON p.id = e.payout_id WHERE p.status = 'completed'`
      return toBigInt(r!.s)
    },

    blocks: (limit, before) => blocks(sql, bound(limit), before),
    miner: (address, blocksLimit, sinceMs) => miner(sql, address, bound(blocksLimit), sinceMs, now()),

    async farmers(limit) {
      const rows = await sql<{ public_key: string; status: string; stake_percent: string; block: bigint | null; zeros: number | null }[]>`
        SELECT f.public_key, f.status, f.stake_percent::text AS stake_percent, w.block, w.zeros
        FROM farmers f
        LEFT JOIN LATERAL (
          SELECT block, zeros FROM chain_ops WHERE farmer = f.public_key AND op = 'work' AND status = 'done' ORDER BY block DESC LIMIT 1
        ) w ON true
        ORDER BY f.created_at, f.public_key
        LIMIT ${bound(limit)}`
      return rows.map((r) => ({
        publicKey: r.public_key,
        status: r.status,
        stakePercent: Number(r.stake_percent),
        lastBlockWorked: r.block === null ? null : Number(r.block),
        zeros: r.zeros,
      }))
    },

    async farmerCounts() {
      const [r] = await sql<{ active: number; total: number }[]>`
        SELECT count(*) FILTER (WHERE status = 'active')::int AS active, count(*)::int AS total FROM farmers`
      return { active: r!.active, total: r!.total }
    },
  }
}

async function blocks(sql: Sql, limit: number, before: number | undefined): Promise<BlockRow[]> {
  const beforeIdx = before === undefined ? null : before
  const rows = await sql<{
    block: bigint; opened_at: Date | null; planted: number; worked: number; harvested: number
    work_zeros: number | null; share_zeros: number | null; shares: string | null; difficulty: string | null
    pot: string; reward_pot_stroops: bigint | null; fee_stroops: bigint | null
  }[]>`
    WITH idx AS (
      -- every block with chain operations has a blocks row (sql/002_block_rows.sql)
      SELECT index AS block FROM blocks
      WHERE ${beforeIdx}::int8 IS NULL OR index < ${beforeIdx}::int8
      ORDER BY index DESC LIMIT ${limit}
    )
    SELECT i.block, b.opened_at, b.reward_pot_stroops, b.fee_stroops,
           o.planted, o.worked, o.harvested, o.work_zeros, o.pot,
           s.share_zeros, s.shares, s.difficulty
    FROM idx i
    LEFT JOIN blocks b ON b.index = i.block
    LEFT JOIN LATERAL (
      SELECT count(*) FILTER (WHERE op = 'plant' AND status = 'done')::int AS planted,
             count(*) FILTER (WHERE op = 'work' AND status = 'done')::int AS worked,
             count(*) FILTER (WHERE op = 'harvest' AND status = 'done')::int AS harvested,
             max(zeros) FILTER (WHERE op = 'work' AND status = 'done') AS work_zeros,
             coalesce(sum(amount_stroops) FILTER (WHERE op = 'harvest' AND status = 'done'), 0)::text AS pot
      FROM chain_ops WHERE block = i.block
    ) o ON true
    LEFT JOIN LATERAL (
      SELECT max(best_zeros) AS share_zeros, sum(shares)::text AS shares, sum(difficulty)::text AS difficulty
      FROM share_totals WHERE block = i.block
    ) s ON true
    ORDER BY i.block DESC`
  return rows.map((r) => {
    const zeros = [r.work_zeros, r.share_zeros].filter((z): z is number => z !== null)
    return {
      index: Number(r.block),
      openedAt: r.opened_at === null ? null : Math.floor(r.opened_at.getTime() / MS_PER_SECOND),
      planted: r.planted,
      worked: r.worked,
      harvested: r.harvested,
      bestZeros: zeros.length === 0 ? null : Math.max(...zeros),
      shares: r.shares === null ? 0 : Number(r.shares),
      difficulty: diffOf(r.difficulty),
      rewardStroops: r.reward_pot_stroops ?? toBigInt(r.pot),
      feeStroops: r.fee_stroops ?? 0n,
    }
  })
}

async function miner(sql: Sql, address: string, blocksLimit: number, sinceMs: number, nowMs: number): Promise<MinerDetail | null> {
  const [known] = await sql<{ miner: boolean; entries: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM miners WHERE address = ${address}) AS miner,
           EXISTS (SELECT 1 FROM balance_entries WHERE miner = ${address}) AS entries`
  if (!known!.miner && !known!.entries) return null
  const windowSeconds = Math.max(1, (nowMs - sinceMs) / MS_PER_SECOND)
  const workers = await sql<{ name: string; last_share_at: Date; d: string | null }[]>`
    SELECT w.name, w.last_share_at,
           (SELECT sum(difficulty)::text FROM share_minutes m
             WHERE m.miner = w.miner AND m.worker = w.name AND m.minute >= to_timestamp(${sinceMs} / 1000.0)) AS d
    FROM workers w WHERE w.miner = ${address} ORDER BY w.name LIMIT ${LIST_ROWS_MAX}`
  const perBlock = await sql<{ block: bigint; shares: string; d: string; z: number; credit: bigint | null }[]>`
    SELECT t.block, sum(t.shares)::text AS shares, sum(t.difficulty)::text AS d, max(t.best_zeros) AS z,
           (SELECT amount_stroops FROM balance_entries WHERE cause = 'reward:' || t.block::text || ':' || ${address}) AS credit
    FROM share_totals t WHERE t.miner = ${address}
    GROUP BY t.block ORDER BY t.block DESC LIMIT ${blocksLimit}`
  const [money] = await sql<{ balance: string; paid: string }[]>`
    SELECT (SELECT coalesce(sum(amount_stroops), 0) FROM balance_entries WHERE miner = ${address})::text AS balance,
           (SELECT coalesce(sum(e.amount_stroops), 0) FROM payout_entries e JOIN payouts p ON p.id = e.payout_id
             WHERE e.miner = ${address} AND p.status = 'completed')::text AS paid`
  const payouts = await sql<{ at: Date; amount: bigint | null; status: string; tx_hash: string | null; reason: string | null }[]>`
    (SELECT p.created_at AS at, e.amount_stroops AS amount, p.status, p.tx_hash, p.reason
       FROM payout_entries e JOIN payouts p ON p.id = e.payout_id WHERE e.miner = ${address})
    UNION ALL
    (SELECT at, NULL, 'skipped', NULL, reason FROM payout_skips WHERE miner = ${address} ORDER BY at DESC LIMIT ${MINER_PAYOUTS_MAX})
    ORDER BY at DESC LIMIT ${MINER_PAYOUTS_MAX}`
  const workerRows: MinerWorker[] = workers.map((w) => ({ name: w.name, hashrate10m: diffOf(w.d) / windowSeconds, lastShareAt: w.last_share_at.getTime() }))
  return {
    address,
    hashrate10m: workerRows.reduce((a, w) => a + w.hashrate10m, 0),
    workers: workerRows,
    blocks: perBlock.map((b) => ({ index: Number(b.block), shares: Number(b.shares), difficulty: diffOf(b.d), bestZeros: b.z, creditStroops: b.credit })),
    balanceStroops: toBigInt(money!.balance),
    paidStroops: toBigInt(money!.paid),
    payouts: payouts.map((p) => ({ at: p.at.getTime(), amountStroops: p.amount ?? 0n, status: p.status, txHash: p.tx_hash, reason: p.reason })),
  }
}
