// Metrics move as miners work: a real StratumServer with the real Piscina
// verifier, the reference StratumClient over TCP, and the pool's HTTP server
// scraped over HTTP for every assertion.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { StrKey } from '@stellar/stellar-sdk'
import { loadConfig } from '../../src/config.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { StratumServer } from '../../src/stratum/server.js'
import { Verifier } from '../../src/workers/verifier.js'
import { StratumClient, type JobNotice } from '../../src/miner/client.js'
import { startHttpServer, type HttpServer } from '../../src/http/server.js'
import { silentLogger } from '../../src/log.js'
import type { ShareEvent } from '../../src/events.js'
import { MemoryView } from '../http/memory-view.js'

const PAYOUT = StrKey.encodeEd25519PublicKey(Buffer.alloc(32, 9))
const FARMER = StrKey.encodeEd25519PublicKey(randomBytes(32))

/** Parses Prometheus text into "name{labels}" → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return out
}

let stratum: StratumServer
let verifier: Verifier
let http: HttpServer
let port: number
const shares: ShareEvent[] = []

async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${http.url}/metrics`)
  expect(res.status).toBe(200)
  return parse(await res.text())
}

/** Polls the scrape until `pred` holds (bounded). */
async function until(pred: (m: Map<string, number>) => boolean, ms = 5000): Promise<Map<string, number>> {
  const deadline = Date.now() + ms
  for (;;) {
    const m = await scrape()
    if (pred(m)) return m
    if (Date.now() > deadline) throw new Error('metrics never reached the expected state')
    await new Promise((r) => setTimeout(r, 25))
  }
}

beforeAll(async () => {
  const metrics = createMetrics()
  const c = loadConfig({})
  verifier = new Verifier({ threads: 1, batchMax: 64, batchMs: 1, queueMax: 16, idleTimeoutMs: 1000, metrics })
  stratum = new StratumServer(
    { ...c, stratumHost: '127.0.0.1', stratumPort: 0, stratumTlsPort: undefined, difficultyMin: 1, difficultyStart: 1, tickMs: 50 },
    { verifier, shares: { add: (s) => (shares.push(s), true) }, metrics },
  )
  port = (await stratum.listen()).port
  http = await startHttpServer({ host: '127.0.0.1', port: 0, view: new MemoryView(), metrics, logger: silentLogger() })
})
afterAll(async () => {
  await http.close()
  await stratum.close()
  await verifier.close()
})

describe('metrics follow the stratum server', () => {
  it('sessions, notify, shares by result, accepted difficulty, verify latency', async () => {
    const before = await scrape()
    expect(before.get('kale_pool_sessions_connected')).toBe(0)
    expect(before.get('kale_pool_shares_total{result="accepted"}')).toBe(0)

    stratum.onBlock({ index: 10, entropy: randomBytes(32), timestamp: Math.floor(Date.now() / 1000), ledger: 600, stats: { minGap: 0n, maxGap: 10n, minStake: 0n, maxStake: 0n, minZeros: 0n, maxZeros: 8n } })
    stratum.onPlanted({ index: 10, farmers: [FARMER] })

    const client = new StratumClient({ url: `stratum+tcp://127.0.0.1:${port}`, user: `${PAYOUT}.rig1`, reconnect: false, requestTimeoutMs: 5000 })
    const job = new Promise<JobNotice>((resolve) => client.once('job', resolve))
    try {
      await client.connect()
      const j = await job
      const connected = await until((m) => m.get('kale_pool_sessions_authorized') === 1)
      expect(connected.get('kale_pool_sessions_connected')).toBe(1)
      expect(connected.get('kale_pool_notify_seconds_count')).toBeGreaterThanOrEqual(1)

      // Difficulty 1: every hash meets the target, so any fresh nonce is accepted.
      const e2 = (n: number) => j.extranonce1Hex + n.toString(16).padStart(16 - j.extranonce1Hex.length, '0')
      for (let n = 0; n < 3; n++) expect(await client.submit(j.jobId, e2(n))).toEqual({ status: 'accepted' })
      expect(await client.submit(j.jobId, e2(0))).toMatchObject({ status: 'rejected', code: 22 }) // duplicate
      expect(await client.submit(j.jobId, 'zz')).toMatchObject({ status: 'rejected', code: 20 }) // malformed
      expect(await client.submit('ffffffff', e2(9))).toMatchObject({ status: 'rejected', code: 21 }) // unknown job

      const after = await until((m) => m.get('kale_pool_shares_total{result="accepted"}') === 3)
      expect(after.get('kale_pool_shares_total{result="duplicate"}')).toBe(1)
      expect(after.get('kale_pool_shares_total{result="malformed"}')).toBe(1)
      expect(after.get('kale_pool_shares_total{result="stale"}')).toBe(1)
      expect(after.get('kale_pool_accepted_difficulty_total')).toBe(3 * j.difficulty)
      expect(after.get('kale_pool_verify_seconds_count')).toBeGreaterThanOrEqual(3)
      expect(shares).toHaveLength(3)
    } finally {
      client.close()
    }
    await until((m) => m.get('kale_pool_sessions_connected') === 0 && m.get('kale_pool_sessions_authorized') === 0)
  })
})
