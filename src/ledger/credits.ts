// Rewards written to the balance ledger. A block is rewarded once all of its
// chain operations are settled (nothing pending; every done work has a harvest
// done or lost), or once its Block entry's TTL has certainly passed: its pot is the sum of the pool's harvest rewards (stakes are
// not in amount_stroops), split by ledger/rewards.ts. The credits — one entry per
// (block, miner), cause "reward:<block>:<miner>" — and the block's "rewarded"
// mark are written in one transaction under the block row's lock, so running it
// twice, or from two processes at once, credits nobody twice.
import type { Sql } from './db.js'
import { PAIL_TTL_LEDGERS } from '../kale/reward.js'
import type { BlockEvent } from '../events.js'
import type { Metrics } from '../metrics/metrics.js'
import { metrics as defaultMetrics } from '../metrics/metrics.js'
import { numericToMicro, percentToPpm, toBigInt } from './amounts.js'
import { shareWindow, splitReward, type PayoutScheme, type RewardSplit } from './rewards.js'

export interface RewardPolicy {
  feePercent: number
  scheme: PayoutScheme
  pplnsBlocks: number
}

export interface BlockReward extends RewardSplit {
  block: number
}

/** Records a block as the watcher saw it (first sighting wins; rewards untouched). */
export async function recordBlock(sql: Sql, b: BlockEvent): Promise<void> {
  const s = b.stats
  await sql`
    INSERT INTO blocks (index, entropy, opened_at, seen_ledger, min_gap, max_gap, min_stake, max_stake, min_zeros, max_zeros)
    VALUES (${b.index}, ${Buffer.from(b.entropy)}, ${new Date(b.timestamp * 1000)}, ${b.ledger},
            ${s.minGap}, ${s.maxGap}, ${s.minStake.toString()}, ${s.maxStake.toString()}, ${s.minZeros}, ${s.maxZeros})
    ON CONFLICT (index) DO UPDATE SET
      entropy = coalesce(blocks.entropy, excluded.entropy), opened_at = coalesce(blocks.opened_at, excluded.opened_at),
      seen_ledger = coalesce(blocks.seen_ledger, excluded.seen_ledger),
      min_gap = coalesce(blocks.min_gap, excluded.min_gap), max_gap = coalesce(blocks.max_gap, excluded.max_gap),
      min_stake = coalesce(blocks.min_stake, excluded.min_stake), max_stake = coalesce(blocks.max_stake, excluded.max_stake),
      min_zeros = coalesce(blocks.min_zeros, excluded.min_zeros), max_zeros = coalesce(blocks.max_zeros, excluded.max_zeros)`
}

export { PAIL_TTL_LEDGERS }

/**
 * Blocks that are over and whose operations are all settled, not rewarded yet,
 * oldest first (from the unrewarded blocks rows: every block with chain
 * operations has one, sql/002_block_rows.sql). Settled: the watcher has seen a
 * later block (the block can no longer be planted or worked; a row the trigger
 * made for the block an opening plant names does not count), nothing is
 * pending or waiting for a retry, and every
 * planted pail ended in a harvest (done or lost) or a lost work. Without these
 * a block seen mid-cycle (plants done, works not yet sent) would be rewarded
 * with an empty pot.
 *
 * Backstop, so one row nobody resolves cannot freeze a block's rewards forever:
 * a block is also settled — rewarded with what was harvested — once its
 * Block entry has certainly expired, i.e. more than PAIL_TTL_LEDGERS ledgers
 * have passed since the earliest ledger at which it or any later block was
 * seen (Block(N) was created at or before that ledger), so no row of it can
 * change the pot any more — except a harvest sent before that and still
 * recorded pending or failed (outcome unknown): it may have applied (after a
 * downtime longer than the TTL the harvest phase settles it by its hash moments
 * later), so the backstop waits for it. The harvest phase always resolves such a
 * row (by its hash, or as derived or lost once it can no longer apply).
 */
export async function settledUnrewardedBlocks(sql: Sql, limit = 100): Promise<number[]> {
  const rows = await sql<{ block: bigint }[]>`
    SELECT o.block FROM blocks b
    JOIN chain_ops o ON o.block = b.index
    WHERE b.rewarded_at IS NULL
      AND b.index < (SELECT coalesce(max(index), 0) FROM blocks WHERE seen_ledger IS NOT NULL)
    GROUP BY o.block
    HAVING (bool_and(o.status NOT IN ('pending', 'failed'))
       AND bool_and(o.op <> 'plant' OR o.status <> 'done' OR EXISTS (
             SELECT 1 FROM chain_ops s WHERE s.farmer = o.farmer AND s.block = o.block
               AND ((s.op = 'harvest' AND s.status IN ('done', 'lost')) OR (s.op = 'work' AND s.status = 'lost'))))
       AND bool_and(o.op <> 'work' OR o.status <> 'done' OR EXISTS (
             SELECT 1 FROM chain_ops h WHERE h.farmer = o.farmer AND h.block = o.block AND h.op = 'harvest' AND h.status IN ('done', 'lost'))))
       OR ((SELECT min(seen_ledger) FROM blocks WHERE index >= o.block) + ${PAIL_TTL_LEDGERS} < (SELECT max(seen_ledger) FROM blocks)
           AND bool_and(o.op <> 'harvest' OR o.status NOT IN ('pending', 'failed') OR o.tx_hash IS NULL))
    ORDER BY o.block
    LIMIT ${limit}`
  return rows.map((r) => Number(r.block))
}

/** Rewards one block; null when it had been rewarded already. */
export async function rewardBlock(sql: Sql, block: number, policy: RewardPolicy, m: Metrics = defaultMetrics()): Promise<BlockReward | null> {
  const result = (await sql.begin(async (tx) => {
    await tx`INSERT INTO blocks (index) VALUES (${block}) ON CONFLICT (index) DO NOTHING`
    const [row] = await tx<{ rewarded_at: Date | null }[]>`SELECT rewarded_at FROM blocks WHERE index = ${block} FOR UPDATE`
    if (row?.rewarded_at) return null
    const [pot] = await tx<{ pot: string }[]>`
      SELECT coalesce(sum(amount_stroops), 0)::text AS pot FROM chain_ops WHERE block = ${block} AND op = 'harvest' AND status = 'done'`
    const [first, last] = shareWindow(block, policy.scheme, policy.pplnsBlocks)
    const weights = await tx<{ miner: string; d: string }[]>`
      SELECT miner, sum(difficulty)::text AS d FROM share_totals WHERE block BETWEEN ${first} AND ${last} GROUP BY miner`
    const split = splitReward(toBigInt(pot!.pot), percentToPpm(policy.feePercent), weights.map((w) => ({ miner: w.miner, weight: numericToMicro(w.d) })))
    if (split.credits.length > 0) {
      const c = split.credits
      await tx`
        INSERT INTO balance_entries (miner, amount_stroops, kind, cause, block)
        SELECT m, a, 'reward', 'reward:' || ${block}::text || ':' || m, ${block}
        FROM unnest(${c.map((x) => x.miner)}::text[], ${c.map((x) => x.amountStroops.toString())}::int8[]) AS u (m, a)
        ON CONFLICT (cause) DO NOTHING`
    }
    await tx`
      UPDATE blocks SET reward_pot_stroops = ${split.potStroops}, fee_stroops = ${split.feeStroops},
                        miners_credited = ${split.credits.length}, rewarded_at = now()
      WHERE index = ${block}`
    return { block, ...split }
  })) as BlockReward | null
  if (result) {
    m.feesStroopsTotal.inc(Number(result.feeStroops))
    m.rewardsStroopsTotal.inc(Number(result.potStroops - result.feeStroops))
  }
  return result
}

/** Where shares may still wait in memory (ShareBuffer): a block with unwritten shares is not rewarded yet. */
export interface UnflushedShares {
  lowestBufferedBlock(): number | null
}

/**
 * Rewards every settled block not yet rewarded (call after harvests are recorded,
 * or periodically). With `shares`, blocks whose share window still has shares
 * buffered in memory (the database was away) wait for a later call.
 */
export async function rewardSettledBlocks(sql: Sql, policy: RewardPolicy, m: Metrics = defaultMetrics(), shares?: UnflushedShares): Promise<BlockReward[]> {
  const out: BlockReward[] = []
  const buffered = shares?.lowestBufferedBlock() ?? null
  for (const block of await settledUnrewardedBlocks(sql)) {
    if (buffered !== null && shareWindow(block, policy.scheme, policy.pplnsBlocks)[1] >= buffered) break
    const r = await rewardBlock(sql, block, policy, m)
    if (r) out.push(r)
  }
  return out
}

/** A miner's balance: the sum of its ledger entries. */
export async function balanceOf(sql: Sql, miner: string): Promise<bigint> {
  const [r] = await sql<{ b: string }[]>`SELECT coalesce(sum(amount_stroops), 0)::text AS b FROM balance_entries WHERE miner = ${miner}`
  return toBigInt(r!.b)
}
