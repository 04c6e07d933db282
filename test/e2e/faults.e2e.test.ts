// Faults (issue 8): a standalone devnet failing 10 % of RPC requests the ways
// real RPCs fail, and the database gone for 20 s mid-block (its TCP path cut by
// a proxy the test controls). The pool keeps serving miners throughout and
// loses nothing: every accepted share reaches the database once, and blocks
// keep being planted, worked, harvested and rewarded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import postgres from 'postgres'
import { PoolProcess, MinerProcess, DevnetClient, freshDatabase, tempDir, waitFor, getJson, getText, metricValue, sleep, CLI, ROOT } from './harness.js'
import { startProxy, type Proxy } from '../ledger/proxy.js'

const FARMERS = 4
const OUTAGE_MS = 20_000

describe('RPC faults and a database outage', () => {
  let devnetProc: ChildProcess
  let rpcUrl: string
  let dbh: Awaited<ReturnType<typeof freshDatabase>>
  let proxy: Proxy
  let sql: postgres.Sql
  let pool: PoolProcess
  let miners: MinerProcess[] = []

  beforeAll(async () => {
    devnetProc = spawn(process.execPath, [CLI, 'devnet', '--port', '0', '--ledger-ms', '150', '--fault-rate', '0.1', '--seed', '42'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    rpcUrl = await new Promise<string>((resolve, reject) => {
      let buf = ''
      devnetProc.stdout!.setEncoding('utf8')
      devnetProc.stdout!.on('data', (d: string) => {
        buf += d
        const line = buf.split('\n').find((l) => l.startsWith('{'))
        if (line) resolve((JSON.parse(line) as { rpcUrl: string }).rpcUrl)
      })
      devnetProc.once('exit', (c) => reject(new Error(`devnet exited with ${c}`)))
    })
    dbh = await freshDatabase('faults')
    const env: Record<string, string> = {
      KALE_NETWORK: 'devnet', STELLAR_RPC_URL: rpcUrl, RPC_TIMEOUT_MS: '2000', DATA_DIR: tempDir('kale-faults-'),
      STRATUM_HOST: '127.0.0.1', STRATUM_PORT: '0', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', FARMERS: String(FARMERS),
      VARDIFF_TARGET_SECONDS: '1', DIFFICULTY_MIN: '1', DIFFICULTY_START: '65536', SHARE_FLUSH_MS: '200',
      PAYOUT_INTERVAL_SECONDS: '3600', VERIFY_THREADS: '1', LOG_LEVEL: 'info',
    }
    if (dbh) {
      const u = new URL(dbh.url)
      proxy = await startProxy(u.hostname, Number(u.port || 5432))
      u.port = String(proxy.port)
      env.DATABASE_URL = u.toString()
      sql = postgres(dbh.url, { max: 2, onnotice: () => {} })
    }
    pool = await PoolProcess.start(env)
  }, 180_000)

  afterAll(async () => {
    for (const m of miners) console.log(`miner output (last lines):\n${m.out.slice(-15).join('\n')}`)
    await Promise.all(miners.map((m) => m.stop()))
    await pool?.stop('SIGTERM', 20_000)
    devnetProc?.kill('SIGTERM')
    await proxy?.close()
    await sql?.end({ timeout: 2 })
    await dbh?.drop()
  }, 60_000)

  it('keeps serving miners through RPC faults and a 20 s database outage, losing nothing', async () => {
    const api = pool.endpoints!.httpUrl
    const devnet = await DevnetClient.connect(rpcUrl)
    const payout = [(await waitFor('payout account despite faults', 60_000, () => devnet.payoutAccount(), 500)).publicKey()]
    miners = payout.map((a) => MinerProcess.spawn(pool.endpoints!.stratumPort, `${a}.faulty`))
    const rewardedBlocks = async (): Promise<number[]> => {
      const { body } = await getJson<{ blocks: Array<{ index: number; harvested: number; rewardStroops: string }> }>(`${api}/api/blocks?limit=50`)
      return body.blocks.filter((b) => b.harvested > 0 && b.rewardStroops !== '0').map((b) => b.index)
    }
    await waitFor('a rewarded block and accepted shares under RPC faults', 150_000, async () => miners[0]!.accepted > 0 && (await rewardedBlocks()).length >= 1, 1000)
    if (!proxy) return // no PostgreSQL server: the outage needs a TCP path to cut

    // The database goes away for 20 s; miners keep getting accepted shares.
    const lastBefore = Math.max(0, ...(await rewardedBlocks()))
    await proxy.cut()
    const during0 = miners[0]!.accepted
    await sleep(3000)
    const health = await getJson<{ status: string; database: { ok: boolean } }>(`${api}/health`)
    expect(health.status).toBe(503)
    expect(health.body.database.ok).toBe(false)
    await sleep(OUTAGE_MS - 3000)
    expect(miners[0]!.accepted).toBeGreaterThan(during0)
    const acceptedDuringOutage = metricValue(await getText(`${api}/metrics`), 'kale_pool_shares_total', { result: 'accepted' })
    await proxy.restore()

    // Back: everything buffered is written once; blocks go on being rewarded.
    await waitFor('two more rewarded blocks after the outage', 150_000, async () => (await rewardedBlocks()).filter((b) => b > lastBefore).length >= 2, 1000)
    await Promise.all(miners.map((m) => m.stop()))
    await waitFor('the database has every accepted share, once', 30_000, async () => {
      const accepted = metricValue(await getText(`${api}/metrics`), 'kale_pool_shares_total', { result: 'accepted' })
      const [r] = await sql`SELECT coalesce(sum(shares), 0)::int AS n FROM share_totals`
      return r!.n === accepted && accepted >= acceptedDuringOutage
    }, 500)
    const [dup] = await sql`SELECT count(*)::int AS n FROM (SELECT farmer, block FROM chain_ops WHERE op = 'plant' AND status = 'done' GROUP BY 1, 2 HAVING count(*) > 1) d`
    expect(dup!.n).toBe(0)
    // Counted once those blocks are settled: "rewarded" needs only one harvest, and under
    // RPC faults the last block's other harvests may still be on their way (a snapshot
    // taken then read 11 of 12 harvested once). A harvest recorded lost still counts against.
    await waitFor('every worked pail up to the block after next harvested or recorded lost', 60_000, async () => {
      const [open] = await sql`SELECT count(*)::int AS n FROM chain_ops w WHERE w.block <= ${lastBefore + 2} AND w.op = 'work' AND w.status = 'done'
        AND NOT EXISTS (SELECT 1 FROM chain_ops h WHERE h.farmer = w.farmer AND h.block = w.block AND h.op = 'harvest' AND h.status IN ('done', 'lost'))`
      return open!.n === 0
    }, 500)
    const [h] = await sql`SELECT count(*) FILTER (WHERE op = 'harvest' AND status = 'done')::int AS harvested, count(*) FILTER (WHERE op = 'work' AND status = 'done')::int AS worked FROM chain_ops WHERE block <= ${lastBefore + 2}`
    expect(h!.harvested / h!.worked).toBeGreaterThanOrEqual(0.95)
  }, 600_000)
})
