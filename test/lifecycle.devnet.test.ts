// The pool process's start and stop order (src/main.ts), in-process against its
// embedded devnet and database. An orchestrator's grace period can end in
// SIGKILL at any point of a stop, so accepted shares must be in the database
// within its first seconds, whatever the chain drain or a payout run does; and a
// port that cannot be bound must stop the start before any chain activity.
import net from 'node:net'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { startPool, type PoolHandle } from '../src/main.js'
import { openDb } from '../src/ledger/db.js'
import { LogCapture } from './chain/harness.js'
import { Raw, login, findNonce, PAYOUT } from './stratum/helpers.js'

const CHAIN_DRAIN_MS = 3500
const PAYOUT_DRAIN_MS = 3000
/** A stop must have the shares in the database within this long, drains or not: before either wait could have ended. */
const SHARES_DURABLE_MS_MAX = 2500

function env(dataDir: string, over: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: dataDir, DEVNET_PORT: '0', DEVNET_LEDGER_MS: '100', STRATUM_HOST: '127.0.0.1', STRATUM_PORT: '0',
    HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', FARMERS: '1', DIFFICULTY_MIN: '1', DIFFICULTY_START: '1',
    // Shares stay in memory until the stop's flush: only the stop order can write them.
    SHARE_FLUSH_MS: '60000', VERIFY_THREADS: '1', LOG_LEVEL: 'info', ...over,
  }
}

/**
 * Submits shares on the latest job at the latest difficulty until `count` are
 * accepted (a share that a new block made stale is found again on the new job).
 */
async function submitAccepted(c: Raw, e1: string, count: number, logs: () => string): Promise<void> {
  let accepted = 0
  for (let i = 0; accepted < count; i++) {
    if (i > count * 4) throw new Error(`only ${accepted} of ${count} shares accepted: ${JSON.stringify(c.lines.slice(-4))}`)
    const jobs = c.notifications('mining.notify')
    const job = jobs[jobs.length - 1]!
    const diffs = c.notifications('mining.set_difficulty')
    const difficulty = Number(diffs[diffs.length - 1]?.params?.[0] ?? 1)
    const r = await c.call(`s${i}`, 'mining.submit', [`${PAYOUT}.rig`, job.params![0], findNonce(job, e1, difficulty, i * 1000)])
    if (r.result === true) accepted++
    else if (r.error?.code !== 21) throw new Error(`share refused: ${JSON.stringify(r)}\n${logs()}`)
  }
}

describe('pool lifecycle', () => {
  const dirs: string[] = []
  const pools: PoolHandle[] = []
  const tempDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kale-lifecycle-'))
    dirs.push(d)
    return d
  }
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.stop().catch(() => {})))
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
  })

  it('a stop writes accepted shares and closes stratum before it waits for chain phases and a payout run, and both waits are bounded', async () => {
    const cap = new LogCapture()
    const pool = await startPool(loadConfig(env(tempDir())), { log: cap.logger, tickMs: 100, chainDrainMs: CHAIN_DRAIN_MS, payoutDrainMs: PAYOUT_DRAIN_MS })
    pools.push(pool)
    const c = await Raw.connect(pool.stratumPort)
    const { e1 } = await login(c, `${PAYOUT}.rig`)
    // Work comes once the block cycle has planted the farmer.
    await c.until((ls) => ls.some((l) => l.method === 'mining.notify'), 30_000)
    const SHARES = 5
    await submitAccepted(c, e1, SHARES, () => cap.text)
    const [before] = await pool.db.sql`SELECT coalesce(sum(shares), 0)::int AS n FROM share_totals`
    expect(before!.n).toBe(0) // nothing flushed yet: SHARE_FLUSH_MS is a minute

    // Faults: a chain phase and a payout run that never end by themselves.
    expect(SHARES_DURABLE_MS_MAX).toBeLessThan(Math.min(CHAIN_DRAIN_MS, PAYOUT_DRAIN_MS))
    const never = (): Promise<void> => new Promise<void>(() => {})
    pool.chain.scheduler.idle = never
    pool.payouts.stop = never

    const t0 = Date.now()
    let stoppedAt = 0
    const stopped = pool.stop().then(() => (stoppedAt = Date.now()))
    let durableAt = 0
    while (durableAt === 0 && Date.now() - t0 < SHARES_DURABLE_MS_MAX) {
      const [r] = await pool.db.sql`SELECT coalesce(sum(shares), 0)::int AS n FROM share_totals`
      if (r!.n === SHARES) durableAt = Date.now()
      else await new Promise((res) => setTimeout(res, 50))
    }
    expect(durableAt, 'shares written within the first seconds of the stop').toBeGreaterThan(0)
    expect(stoppedAt, 'still waiting for the drains when the shares were written').toBe(0)
    await c.untilClosed(1000)
    expect(c.notifications('client.reconnect').length).toBe(1)

    await stopped
    // The two waits run side by side from the start of the stop, each bounded.
    const took = stoppedAt - t0
    expect(took).toBeGreaterThanOrEqual(Math.max(CHAIN_DRAIN_MS, PAYOUT_DRAIN_MS) - 100)
    expect(took).toBeLessThan(Math.max(CHAIN_DRAIN_MS, PAYOUT_DRAIN_MS) + 6000)
    expect(cap.text).toMatch(/stopped with a payout run in progress/)
    expect(cap.text).toMatch(/stopped with chain phases still in flight/)
  }, 60_000)

  it('a taken HTTP port stops the start before any farmer account is created', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as net.AddressInfo).port
    const dataDir = tempDir()
    try {
      const cap = new LogCapture()
      await expect(startPool(loadConfig(env(dataDir, { HTTP_PORT: String(port) })), { log: cap.logger })).rejects.toThrow(/EADDRINUSE|in use/i)
      expect(cap.text).not.toMatch(/farmer accounts ready/)
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()))
    }
    // The books agree: no farmer was created (ensureFarmers records each before funding it).
    const db = await openDb({ dataDir, poolMax: 1 })
    try {
      const [f] = await db.sql`SELECT count(*)::int AS n FROM farmers`
      expect(f!.n).toBe(0)
      const [o] = await db.sql`SELECT count(*)::int AS n FROM chain_ops`
      expect(o!.n).toBe(0)
    } finally {
      await db.close()
    }
  }, 60_000)
})
