// The real PoolView: the ledger's read queries for history and money, the
// metrics registry for live state (sessions, current block — the stratum server
// and the block watcher already keep those gauges current), probes for health,
// and the admin actions the integration hands in. No SQL or RPC here.
import type { Metrics } from '../metrics/metrics.js'
import type { ChainStore } from '../chain/store.js'
import { kaleToStroops } from '../kale/reward.js'
import { scrubString } from '../log.js'
import type { PoolView, Health, HealthPart, PoolSummary, BlockRow, MinerDetail, FarmerRow, AddFarmersResult, PayoutRunResult } from './view.js'

/** Reads of the ledger the view needs; src/ledger/queries.ts provides them. */
export interface LedgerReads {
  /** accepted share difficulty summed since `sinceMs`, with distinct miners and workers */
  recentShares(sinceMs: number): Promise<{ difficulty: number; miners: number; workers: number }>
  paidStroops(): Promise<bigint>
  blocks(limit: number, before?: number): Promise<BlockRow[]>
  miner(address: string, blocksLimit: number, sinceMs: number): Promise<MinerDetail | null>
  farmers(limit: number): Promise<FarmerRow[]>
  farmerCounts(): Promise<{ active: number; total: number }>
}

/** What the operator may do through the admin API (the integration wires these). */
export interface AdminActions {
  addFarmers(count: number, stakePercent: number): Promise<AddFarmersResult>
  disableFarmer(publicKey: string): Promise<boolean>
  runPayouts(): Promise<PayoutRunResult>
}

/** POST /api/farmers/:key/disable through the chain store: false when the pool holds no such farmer. */
export function disableFarmerVia(store: Pick<ChainStore, 'listFarmers' | 'setFarmerStatus'>): (publicKey: string) => Promise<boolean> {
  return async (publicKey) => {
    if (!(await store.listFarmers()).some((f) => f.publicKey === publicKey)) return false
    await store.setFarmerStatus(publicKey, 'disabled')
    return true
  }
}

/** Health probes: resolve when the part answers, reject (with a PoolError) when not. */
export interface Probes {
  rpc(): Promise<void>
  database(): Promise<void>
  /** the stratum server is listening */
  stratumListening(): boolean
}

export interface PoolViewOptions {
  reads: LedgerReads
  admin: AdminActions
  probes: Probes
  metrics: Metrics
  poolFeePercent: number
  payoutScheme: 'prop' | 'pplns'
  pplnsBlocks: number
  payoutThresholdKale: number
  /** a block older than this (metrics.blockAge: its age when first seen plus local time since) makes /health fail */
  blockAgeSecondsMax?: number
  /** a probe slower than this counts as failing */
  probeTimeoutMs?: number
  now?: () => number
}

export const HASHRATE_WINDOW_MS = 10 * 60 * 1000
/** Blocks open every ≥ 300 s and the pool opens one itself when the last is 300 s old: 3 intervals means stuck. */
const BLOCK_AGE_SECONDS_MAX = 900
export const PROBE_TIMEOUT_MS = 2000
const REASON_CHARS_MAX = 200

async function gaugeValue(g: Metrics['blockIndex']): Promise<number> {
  return (await g.get()).values[0]?.value ?? 0
}

function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown }
  const text = typeof e?.code === 'string' ? `${e.code}: ${String(e.message ?? '')}` : err instanceof Error ? err.message : String(err)
  // Served to anyone: the same scrubbing as the logs (URL passwords, seeds, tokens).
  return scrubString(text).slice(0, REASON_CHARS_MAX)
}

async function probe(run: () => Promise<void>, timeoutMs: number): Promise<HealthPart> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    await Promise.race([run(), timeout])
    return { ok: true, latencyMs: Math.round(performance.now() - started) }
  } catch (err) {
    return { ok: false, reason: reasonOf(err) }
  } finally {
    clearTimeout(timer)
  }
}

export function createPoolView(o: PoolViewOptions): PoolView {
  const now = o.now ?? Date.now
  const ageMax = o.blockAgeSecondsMax ?? BLOCK_AGE_SECONDS_MAX
  const probeMs = o.probeTimeoutMs ?? PROBE_TIMEOUT_MS
  const m = o.metrics
  const thresholdStroops = kaleToStroops(o.payoutThresholdKale.toFixed(7)) ?? 0n

  async function currentBlock(): Promise<{ index: number; openedAt: number; ageSeconds: number } | null> {
    const index = await gaugeValue(m.blockIndex)
    if (index <= 0) return null
    const openedAt = await gaugeValue(m.blockOpenedSeconds)
    return { index, openedAt, ageSeconds: Math.round(m.blockAge.seconds(index, openedAt, now())) }
  }

  async function sessions(): Promise<{ connected: number; authorized: number }> {
    return { connected: await gaugeValue(m.sessionsConnected), authorized: await gaugeValue(m.sessionsAuthorized) }
  }

  return {
    async health(): Promise<Health> {
      const [rpc, database, block, s, buffered] = await Promise.all([probe(o.probes.rpc, probeMs), probe(o.probes.database, probeMs), currentBlock(), sessions(), gaugeValue(m.dbBufferedRows)])
      const blockPart: HealthPart = block === null ? { ok: false, reason: 'no block seen yet' } : block.ageSeconds > ageMax ? { ok: false, reason: `block ${block.index} is ${block.ageSeconds} s old (max ${ageMax})`, ...block } : { ok: true, ...block }
      const listening = o.probes.stratumListening()
      return {
        block: blockPart,
        rpc,
        database: { ...database, bufferedRows: buffered },
        sessions: listening ? { ok: true, ...s } : { ok: false, reason: 'stratum server not listening', ...s },
      }
    },

    async pool(): Promise<PoolSummary> {
      const since = now() - HASHRATE_WINDOW_MS
      const [recent, farmers, paid, block, s] = await Promise.all([o.reads.recentShares(since), o.reads.farmerCounts(), o.reads.paidStroops(), currentBlock(), sessions()])
      return {
        hashrate10m: recent.difficulty / (HASHRATE_WINDOW_MS / 1000),
        sessions: s,
        miners: recent.miners,
        workers: recent.workers,
        farmers,
        block,
        feePercent: o.poolFeePercent,
        scheme: o.payoutScheme,
        ...(o.payoutScheme === 'pplns' ? { pplnsBlocks: o.pplnsBlocks } : {}),
        payoutThresholdStroops: thresholdStroops,
        paidStroops: paid,
      }
    },

    blocks: (limit, before) => o.reads.blocks(limit, before),
    miner: (address, blocksLimit) => o.reads.miner(address, blocksLimit, now() - HASHRATE_WINDOW_MS),
    farmers: (limit) => o.reads.farmers(limit),
    addFarmers: (count, stakePercent) => o.admin.addFarmers(count, stakePercent),
    disableFarmer: (publicKey) => o.admin.disableFarmer(publicKey),
    runPayouts: () => o.admin.runPayouts(),
  }
}
