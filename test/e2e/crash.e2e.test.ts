// Crash (issue 8): kill -9 the pool mid-block and start it again on the same
// data directory and database. Nothing is done twice on chain (every farmer's
// and miner's devnet balance matches the books exactly), no share accepted
// more than a flush interval before the kill is lost, and the miners reconnect
// by themselves and go on being credited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import postgres from 'postgres'
import { PoolProcess, MinerProcess, DevnetClient, freshDatabase, freePort, tempDir, waitFor, getJson, getText, metricValue, sleep } from './harness.js'

const FARMERS = 4
const SHARE_FLUSH_MS = 200

describe('kill -9 mid-block and restart', () => {
  let dbh: Awaited<ReturnType<typeof freshDatabase>>
  let sql: postgres.Sql
  let env: Record<string, string>
  let pool: PoolProcess
  let miners: MinerProcess[] = []

  beforeAll(async () => {
    dbh = await freshDatabase('crash')
    env = {
      DATA_DIR: tempDir('kale-crash-'), DEVNET_PORT: String(await freePort()), DEVNET_LEDGER_MS: '150',
      STRATUM_HOST: '127.0.0.1', STRATUM_PORT: String(await freePort()), HTTP_HOST: '127.0.0.1', HTTP_PORT: '0',
      FARMERS: String(FARMERS), VARDIFF_TARGET_SECONDS: '1', DIFFICULTY_MIN: '1', DIFFICULTY_START: '65536',
      SHARE_FLUSH_MS: String(SHARE_FLUSH_MS), PAYOUT_THRESHOLD_KALE: '1', PAYOUT_INTERVAL_SECONDS: '1', VERIFY_THREADS: '1',
      LOG_LEVEL: 'info', ...(dbh ? { DATABASE_URL: dbh.url } : {}),
    }
    if (dbh) sql = postgres(dbh.url, { max: 2, onnotice: () => {} })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(miners.map((m) => m.stop()))
    await pool?.stop('SIGKILL')
    await sql?.end({ timeout: 2 })
    await dbh?.drop()
  }, 60_000)

  it('loses no share, does no chain operation or payout twice, and miners resume', async () => {
    pool = await PoolProcess.start(env)
    const devnet = await DevnetClient.connect(pool.endpoints!.rpcUrl)
    const payout = [(await devnet.payoutAccount()).publicKey(), (await devnet.payoutAccount()).publicKey()]
    miners = payout.map((a, i) => MinerProcess.spawn(pool.endpoints!.stratumPort, `${a}.w${i}`))

    // Run until payouts have happened, then kill mid-block: shares, chain work and payouts all in motion.
    await waitFor('a payout to each miner', 120_000, async () => (await Promise.all(payout.map((a) => devnet.kaleBalance(a)))).every((b) => b > 0n), 1000)
    const acceptedBefore = metricValue(await getText(`${pool.endpoints!.httpUrl}/metrics`), 'kale_pool_shares_total', { result: 'accepted' })
    expect(acceptedBefore).toBeGreaterThan(0)
    await sleep(SHARE_FLUSH_MS * 3) // every share counted above is now older than a flush interval
    await pool.stop('SIGKILL')
    const minersAcceptedAtKill = miners.map((m) => m.accepted)

    // Restart on the same data directory, database and stratum port.
    pool = await PoolProcess.start(env)
    if (sql) {
      const [r] = await sql`SELECT coalesce(sum(shares), 0)::int AS n FROM share_totals`
      expect(r!.n).toBeGreaterThanOrEqual(acceptedBefore)
    }
    // Miners come back by themselves and get credited again.
    await waitFor('miners resume after the restart', 90_000, () => miners.every((m, i) => m.accepted > minersAcceptedAtKill[i]! + 2), 500)
    const api = pool.endpoints!.httpUrl
    const { body } = await getJson<{ block: { index: number } | null }>(`${api}/api/pool`)
    const restartBlock = body.block!.index
    await waitFor('two more blocks rewarded after the restart', 120_000, async () => {
      const blocks = (await getJson<{ blocks: Array<{ index: number; harvested: number; rewardStroops: string }> }>(`${api}/api/blocks?limit=20`)).body.blocks
      return blocks.filter((b) => b.index > restartBlock && b.harvested === FARMERS && b.rewardStroops !== '0').length >= 2
    }, 1000)
    await Promise.all(miners.map((m) => m.stop()))
    if (!sql) return

    // The books and the chain agree exactly: a plant, harvest or payout done twice would show here.
    await waitFor('books and chain agree', 60_000, async () => {
      const [pending] = await sql`SELECT count(*)::int AS n FROM payouts WHERE status = 'pending'`
      if (pending!.n > 0) return false
      for (const a of payout) {
        const [paid] = await sql`SELECT coalesce(sum(e.amount_stroops), 0)::text AS p FROM payout_entries e JOIN payouts p ON p.id = e.payout_id WHERE p.status = 'completed' AND e.miner = ${a}`
        if ((await devnet.kaleBalance(a)) !== BigInt(paid!.p as string)) return false
      }
      const farmers = await sql`SELECT public_key FROM farmers`
      for (const f of farmers) {
        const [h] = await sql`SELECT coalesce(sum(amount_stroops), 0)::text AS s FROM chain_ops WHERE farmer = ${f.public_key} AND op = 'harvest' AND status = 'done'`
        const [p] = await sql`SELECT coalesce(sum(total_stroops), 0)::text AS s FROM payouts WHERE source = ${f.public_key} AND status = 'completed'`
        // stake 0: a farmer's KALE = its recorded harvests − the payouts it sent
        if ((await devnet.kaleBalance(f.public_key as string)) !== BigInt(h!.s as string) - BigInt(p!.s as string)) return false
      }
      return true
    }, 1000)
    // Every miner's balance is the sum of distinct causes, never negative.
    const balances = await sql`SELECT miner, sum(amount_stroops)::text AS b FROM balance_entries GROUP BY miner`
    for (const b of balances) expect(BigInt(b.b as string)).toBeGreaterThanOrEqual(0n)
    const [dupPlants] = await sql`SELECT count(*)::int AS n FROM (SELECT farmer, block FROM chain_ops WHERE op = 'plant' AND status = 'done' GROUP BY 1, 2 HAVING count(*) > 1) d`
    expect(dupPlants!.n).toBe(0)
  }, 600_000)
})
