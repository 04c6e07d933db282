// The real PoolView's live half: health from probes and the metrics gauges the
// stratum server and block watcher keep, served over HTTP.
import { describe, it, expect, afterEach } from 'vitest'
import { createPoolView, type LedgerReads, type Probes } from '../../src/http/pool-view.js'
import { startHttpServer, type HttpServer } from '../../src/http/server.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { silentLogger } from '../../src/log.js'
import { PoolError, ErrorCode } from '../../src/errors.js'

const NOW = 1_800_000_000_000

const noReads: LedgerReads = {
  recentShares: async () => ({ difficulty: 600 * 1000, miners: 2, workers: 3 }),
  paidStroops: async () => 42n,
  blocks: async () => [],
  miner: async () => null,
  farmers: async () => [],
  farmerCounts: async () => ({ active: 4, total: 5 }),
}
const noAdmin = { addFarmers: async () => ({ publicKeys: [] }), disableFarmer: async () => false, runPayouts: async () => ({ payouts: 0, paidStroops: 0n, skipped: 0 }) }

let server: HttpServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

function setup(probes: Partial<Probes> = {}) {
  const metrics = createMetrics()
  const view = createPoolView({
    reads: noReads, admin: noAdmin, metrics, poolFeePercent: 1, payoutScheme: 'pplns', pplnsBlocks: 8, payoutThresholdKale: 100,
    probes: { rpc: async () => {}, database: async () => {}, stratumListening: () => true, ...probes },
    probeTimeoutMs: 200, now: () => NOW,
  })
  return { metrics, view }
}

async function health(view: ReturnType<typeof setup>['view'], metrics: ReturnType<typeof setup>['metrics']) {
  server = await startHttpServer({ host: '127.0.0.1', port: 0, view, metrics, logger: silentLogger() })
  const res = await fetch(`${server.url}/health`)
  return { status: res.status, body: (await res.json()) as any }
}

describe('PoolView health', () => {
  it('ok when a fresh block is known, RPC and database answer, stratum listens', async () => {
    const { view, metrics } = setup()
    metrics.blockIndex.set(77)
    metrics.blockOpenedSeconds.set(NOW / 1000 - 40)
    metrics.sessionsConnected.set(3)
    metrics.sessionsAuthorized.set(2)
    const r = await health(view, metrics)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ status: 'ok', block: { ok: true, index: 77, ageSeconds: 40 }, rpc: { ok: true }, database: { ok: true, bufferedRows: 0 }, sessions: { ok: true, connected: 3, authorized: 2 } })
  })

  it('503 naming each failing part: no block, RPC error, database hanging, stratum down', async () => {
    const { view, metrics } = setup({
      rpc: async () => { throw new PoolError(ErrorCode.RPC_TIMEOUT, 'getLatestLedger timed out') },
      database: () => new Promise(() => {}),
      stratumListening: () => false,
    })
    const t0 = Date.now()
    const r = await health(view, metrics)
    expect(Date.now() - t0).toBeLessThan(1500)
    expect(r.status).toBe(503)
    expect(r.body.failing).toEqual(['block', 'rpc', 'database', 'sessions'])
    expect(r.body.block.reason).toBe('no block seen yet')
    expect(r.body.rpc.reason).toBe('RPC_TIMEOUT: getLatestLedger timed out')
    expect(r.body.database.reason).toMatch(/no answer within 200 ms/)
    expect(r.body.sessions.reason).toMatch(/not listening/)
  })

  it('a stuck block (older than 900 s) fails health alone', async () => {
    const { view, metrics } = setup()
    metrics.blockIndex.set(5)
    metrics.blockOpenedSeconds.set(NOW / 1000 - 1000)
    const r = await health(view, metrics)
    expect(r.status).toBe(503)
    expect(r.body.failing).toEqual(['block'])
    expect(r.body.block.reason).toMatch(/block 5 is 1000 s old/)
  })

  it('a devnet resumed from saved state (ledger time 3 days behind the wall clock): a block just seen is fresh, not stuck', async () => {
    const { view, metrics } = setup()
    const opened = NOW / 1000 - 3 * 86_400
    metrics.blockIndex.set(77)
    metrics.blockOpenedSeconds.set(opened)
    // The watcher saw it 5 s ago, when the latest ledger closed 40 s of ledger time after it opened.
    metrics.blockAge.seen(77, opened, opened + 40, NOW - 5_000)
    const r = await health(view, metrics)
    expect(r.status).toBe(200)
    expect(r.body.block).toEqual({ ok: true, index: 77, openedAt: opened, ageSeconds: 45 })
  })

  it('block age grows on the local clock even when no ledger closes: a stalled chain still fails health', async () => {
    const { view, metrics } = setup()
    const opened = NOW / 1000 - 3 * 86_400
    metrics.blockIndex.set(5)
    metrics.blockOpenedSeconds.set(opened)
    metrics.blockAge.seen(5, opened, opened + 100, NOW - 850_000)
    const r = await health(view, metrics)
    expect(r.status).toBe(503)
    expect(r.body.failing).toEqual(['block'])
    expect(r.body.block.reason).toBe('block 5 is 950 s old (max 900)')
  })

  it('kale_pool_block_age_seconds counts from the sighting too, not wall clock minus ledger time', async () => {
    const { view, metrics } = setup()
    const opened = Date.now() / 1000 - 3 * 86_400
    metrics.blockIndex.set(9)
    metrics.blockOpenedSeconds.set(opened)
    metrics.blockAge.seen(9, opened, opened + 30)
    server = await startHttpServer({ host: '127.0.0.1', port: 0, view, metrics, logger: silentLogger() })
    const text = await (await fetch(`${server.url}/metrics`)).text()
    const age = Number(/^kale_pool_block_age_seconds (\S+)$/m.exec(text)?.[1])
    expect(age).toBeGreaterThanOrEqual(30)
    expect(age).toBeLessThan(90)
  })

  it('a database error message carrying a URL password is not served', async () => {
    const { view, metrics } = setup({ database: async () => { throw new PoolError(ErrorCode.DATABASE_UNAVAILABLE, 'connection refused: postgres://pool:s3cret-pw@db/kale') } })
    metrics.blockIndex.set(5)
    metrics.blockOpenedSeconds.set(NOW / 1000)
    const r = await health(view, metrics)
    expect(r.body.failing).toEqual(['database'])
    expect(r.body.database.reason).toBe('DATABASE_UNAVAILABLE: connection refused: postgres://pool:[redacted]@db/kale')
  })
})

describe('PoolView pool summary', () => {
  it('hashrate over 10 minutes, live sessions and block, config, money as strings', async () => {
    const { view, metrics } = setup()
    metrics.blockIndex.set(9)
    metrics.blockOpenedSeconds.set(NOW / 1000 - 10)
    metrics.sessionsConnected.set(1)
    server = await startHttpServer({ host: '127.0.0.1', port: 0, view, metrics, logger: silentLogger() })
    const body = (await (await fetch(`${server.url}/api/pool`)).json()) as any
    expect(body).toMatchObject({
      hashrate10m: 1000, miners: 2, workers: 3, sessions: { connected: 1, authorized: 0 }, farmers: { active: 4, total: 5 },
      block: { index: 9, ageSeconds: 10 }, feePercent: 1, scheme: 'pplns', pplnsBlocks: 8,
      payoutThresholdStroops: '1000000000', payoutThresholdKale: '100', paidStroops: '42', paidKale: '0.0000042',
    })
  })
})
