// End to end (issue 8): the pool as a real process on the devnet's fast clock,
// 6 farmers, 3 reference miners with different payout addresses, real TCP, the
// real PostgreSQL (embedded when no server answers). Every farmer plants, works
// (with a hash at least as good as its miners' best share) and harvests each
// block; rewards are split by share difficulty; KALE arrives at the miners'
// devnet accounts; the API and the metrics agree with the ledger and the devnet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import postgres from 'postgres'
import { PoolProcess, MinerProcess, DevnetClient, freshDatabase, tempDir, waitFor, getJson, getText, metricValue, sleep } from './harness.js'

const FARMERS = 6
const BLOCKS_MIN = 4
const ADMIN_TOKEN = 'e2e-admin-token-0123456789'

describe('the whole pool, end to end', () => {
  let pool: PoolProcess
  let miners: MinerProcess[] = []
  let dbh: Awaited<ReturnType<typeof freshDatabase>>
  let sql: postgres.Sql
  let devnet: DevnetClient
  let env: Record<string, string>
  const payout: string[] = []

  beforeAll(async () => {
    dbh = await freshDatabase('pool')
    const dataDir = tempDir('kale-e2e-')
    env = {
      DATA_DIR: dataDir, DEVNET_PORT: '0', DEVNET_LEDGER_MS: '150', STRATUM_HOST: '127.0.0.1', STRATUM_PORT: '0',
      HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', FARMERS: String(FARMERS), VARDIFF_TARGET_SECONDS: '1', DIFFICULTY_MIN: '1',
      DIFFICULTY_START: '65536', SHARE_FLUSH_MS: '200', PAYOUT_THRESHOLD_KALE: '1', PAYOUT_INTERVAL_SECONDS: '2',
      VERIFY_THREADS: '1', LOG_LEVEL: 'info', ADMIN_TOKEN, ...(dbh ? { DATABASE_URL: dbh.url } : {}),
    }
    pool = await PoolProcess.start(env)
    const ep = pool.endpoints!
    devnet = await DevnetClient.connect(ep.rpcUrl)
    for (let i = 0; i < 3; i++) payout.push((await devnet.payoutAccount()).publicKey())
    miners = payout.map((addr, i) => MinerProcess.spawn(ep.stratumPort, `${addr}.rig${i}`))
    if (dbh) sql = postgres(dbh.url, { max: 2, onnotice: () => {} })
  }, 120_000)

  afterAll(async () => {
    await Promise.all(miners.map((m) => m.stop()))
    await pool?.stop()
    await sql?.end({ timeout: 2 })
    await dbh?.drop()
  }, 60_000)

  it('cycles every farmer through 4+ blocks, splits rewards by difficulty and pays the miners', async () => {
    const api = pool.endpoints!.httpUrl
    // 1. Blocks with shares from every miner get rewarded.
    const rewarded = await waitFor('4 rewarded blocks with shares from all miners', 150_000, async () => {
      const { body } = await getJson<{ blocks: Array<{ index: number; rewardStroops: string; harvested: number }> }>(`${api}/api/blocks?limit=50`)
      const done = body.blocks.filter((b) => b.harvested === FARMERS && b.rewardStroops !== '0').map((b) => b.index)
      const perMiner = await Promise.all(payout.map((a) => getJson<{ blocks: Array<{ index: number; creditStroops: string | null }> }>(`${api}/api/miners/${a}?blocks=50`)))
      if (perMiner.some((r) => r.status !== 200)) return undefined
      const full = done.filter((i) => perMiner.every((r) => r.body.blocks.some((x) => x.index === i && x.creditStroops !== null)))
      return full.length >= BLOCKS_MIN ? full.sort((a, b) => a - b) : undefined
    }, 1000)

    // 2. Payouts reach every miner's devnet account.
    await waitFor('KALE paid to every miner', 90_000, async () => {
      for (const a of payout) if ((await devnet.kaleBalance(a)) === 0n) return false
      return true
    }, 1000)

    // 3. Stop the miners; let shares flush and payouts settle, then compare.
    await Promise.all(miners.map((m) => m.stop()))
    for (const m of miners) expect(m.accepted).toBeGreaterThan(0)
    await waitFor('no pending payouts', 60_000, async () => {
      const { body } = await getJson<{ blocks: unknown[] }>(`${api}/api/blocks?limit=1`)
      if (!body || !sql) return true
      const [r] = await sql`SELECT count(*)::int AS n FROM payouts WHERE status = 'pending'`
      return r!.n === 0
    }, 500)
    await sleep(1000)

    const blocksApi = (await getJson<{ blocks: Array<{ index: number; planted: number; worked: number; harvested: number; rewardStroops: string; feeStroops: string }> }>(`${api}/api/blocks?limit=100`)).body.blocks

    if (!sql) return // embedded database: the API checks above ran; the SQL cross-checks need a server
    const blocks = rewarded.slice(0, BLOCKS_MIN)
    for (const b of blocks) {
      const ops = await sql`SELECT farmer, op, status, amount_stroops, zeros FROM chain_ops WHERE block = ${b}`
      for (const op of ['plant', 'work', 'harvest']) {
        expect(ops.filter((o) => o.op === op && o.status === 'done').length, `block ${b} ${op}`).toBe(FARMERS)
      }
      // Worked with a hash at least as good as the best share its miners found.
      const best = await sql`SELECT farmer, max(best_zeros)::int AS z FROM share_totals WHERE block = ${b} GROUP BY farmer`
      for (const s of best) {
        const work = ops.find((o) => o.farmer === s.farmer && o.op === 'work')
        expect(work!.zeros, `block ${b} farmer ${s.farmer as string}`).toBeGreaterThanOrEqual(s.z as number)
      }
      // The pot is the sum of the pool's harvests; the split is by share difficulty.
      const pot = ops.filter((o) => o.op === 'harvest').reduce((a, o) => a + BigInt(o.amount_stroops as bigint), 0n)
      const [row] = await sql`SELECT reward_pot_stroops::text AS pot, fee_stroops::text AS fee FROM blocks WHERE index = ${b}`
      expect(BigInt(row!.pot as string)).toBe(pot)
      const weights = await sql`SELECT miner, sum(difficulty)::text AS d FROM share_totals WHERE block = ${b} GROUP BY miner`
      const credits = await sql`SELECT miner, amount_stroops::text AS a FROM balance_entries WHERE kind = 'reward' AND block = ${b}`
      const fee = BigInt(row!.fee as string)
      const credited = credits.reduce((a, c) => a + BigInt(c.a as string), 0n)
      expect(credited + fee).toBe(pot)
      expect(fee).toBeGreaterThanOrEqual(pot / 100n) // POOL_FEE_PERCENT = 1
      const total = weights.reduce((a, w) => a + Number(w.d), 0)
      for (const w of weights) {
        const got = Number(credits.find((c) => c.miner === w.miner)?.a ?? 0)
        const want = (Number(pot - pot / 100n) * Number(w.d)) / total
        expect(Math.abs(got - want), `block ${b} miner ${w.miner as string}`).toBeLessThanOrEqual(Math.max(2, want * 1e-9))
      }
      const apiRow = blocksApi.find((x) => x.index === b)!
      expect(apiRow).toMatchObject({ planted: FARMERS, worked: FARMERS, harvested: FARMERS, rewardStroops: pot.toString(), feeStroops: fee.toString() })
    }

    // Balances: the API, the ledger and the devnet agree. Blocks keep closing
    // (the last shares are still being rewarded and paid), so compare snapshots
    // until one is consistent rather than once.
    for (const a of payout) {
      await waitFor(`API, ledger and devnet agree on ${a}`, 60_000, async () => {
        const before = await getJson<{ balanceStroops: string; paidStroops: string }>(`${api}/api/miners/${a}`)
        const [bal] = await sql`SELECT coalesce(sum(amount_stroops), 0)::text AS b FROM balance_entries WHERE miner = ${a}`
        const [paid] = await sql`SELECT coalesce(sum(e.amount_stroops), 0)::text AS p FROM payout_entries e JOIN payouts p ON p.id = e.payout_id WHERE p.status = 'completed' AND e.miner = ${a}`
        const onChain = await devnet.kaleBalance(a)
        const after = await getJson<{ balanceStroops: string; paidStroops: string }>(`${api}/api/miners/${a}`)
        const stable = before.body.balanceStroops === after.body.balanceStroops && before.body.paidStroops === after.body.paidStroops
        return stable && after.body.balanceStroops === bal!.b && after.body.paidStroops === paid!.p && onChain === BigInt(paid!.p as string) && onChain > 0n
      }, 500)
    }

    // Metrics agree with the ledger. Payouts and harvests go on in the
    // background, so take the scrape and the SQL together until they match.
    await waitFor('metrics agree with the ledger', 60_000, async () => {
      const text = await getText(`${api}/metrics`)
      const [shares] = await sql`SELECT coalesce(sum(shares), 0)::int AS n FROM share_totals`
      const [harvests] = await sql`SELECT count(*)::int AS n FROM chain_ops WHERE op = 'harvest' AND status = 'done'`
      const [paid] = await sql`SELECT coalesce(sum(e.amount_stroops), 0)::text AS p FROM payout_entries e JOIN payouts p ON p.id = e.payout_id WHERE p.status = 'completed'`
      return metricValue(text, 'kale_pool_shares_total', { result: 'accepted' }) === shares!.n &&
        metricValue(text, 'kale_pool_pails_total', { stage: 'harvested' }) === harvests!.n &&
        metricValue(text, 'kale_pool_payouts_stroops_total') === Number(paid!.p)
    }, 500)
    expect(metricValue(await getText(`${api}/metrics`), 'kale_pool_block_index')).toBeGreaterThanOrEqual(Math.max(...blocks) + 1)

    // A second pool on the same data directory fails fast, naming the first.
    const second = PoolProcess.spawn(env)
    expect(await second.exited).toBe(1)
    expect(second.stderr.join('\n')).toMatch(/another kale-pool \(pid \d+\) is running on data directory/)

    // A graceful stop exits 0 and says so.
    expect(await pool.stop('SIGTERM')).toBe(0)
    expect(pool.logs(/^stopped$/)).toHaveLength(1)
  }, 400_000)
})
