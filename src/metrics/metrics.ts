// Every Prometheus metric kale-pool exports, defined once on one registry.
// Names: kale_pool_<noun>_<unit|total>; labels are small closed sets — never a
// label per miner, session or farmer (cardinality stays bounded).
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client'

export const SHARE_RESULTS = ['accepted', 'stale', 'duplicate', 'low_difficulty', 'malformed', 'unauthorized', 'busy'] as const
export type ShareResult = (typeof SHARE_RESULTS)[number]
export const CHAIN_OPS = ['plant', 'work', 'harvest', 'payout', 'account'] as const
export type ChainOpLabel = (typeof CHAIN_OPS)[number]

export const PAIL_STAGES = ['planted', 'worked', 'harvested', 'lost'] as const
export type PailStage = (typeof PAIL_STAGES)[number]
/** Route labels of the HTTP server (its route table's patterns, plus "unmatched"): a closed set. */
export const HTTP_ROUTES = ['/', '/metrics', '/health', '/api/pool', '/api/blocks', '/api/miners/:address', '/api/farmers', '/api/farmers/:key/disable', '/api/payouts/run', 'unmatched'] as const
export type HttpRoute = (typeof HTTP_ROUTES)[number]

/**
 * The current block's age on this process's clock: its ledger age when the
 * watcher first saw it (the latest ledger's close time minus the block's
 * timestamp) plus the local seconds since. Not wall clock minus ledger time: a
 * devnet resumed from saved state lags the wall clock by its downtime, and
 * every fresh block looked ancient (/health failed for good).
 */
export class BlockAgeClock {
  private index = 0
  private seenAtMs = 0
  private ageAtSightSeconds = 0

  /** Block `index`, opened at ledger time `openedSeconds`, seen when the latest ledger closed at `closeSeconds`. */
  seen(index: number, openedSeconds: number, closeSeconds: number, nowMs = Date.now()): void {
    if (index === this.index) return
    this.index = index
    this.seenAtMs = nowMs
    this.ageAtSightSeconds = closeSeconds > 0 ? Math.max(0, closeSeconds - openedSeconds) : 0
  }

  /** Seconds; a block never reported through seen() falls back to wall clock minus `openedSeconds`. */
  seconds(index: number, openedSeconds: number, nowMs = Date.now()): number {
    if (index > 0 && index === this.index) return this.ageAtSightSeconds + Math.max(0, nowMs - this.seenAtMs) / 1000
    return openedSeconds > 0 ? Math.max(0, nowMs / 1000 - openedSeconds) : 0
  }
}

export function createMetrics(registry = new Registry()) {
  const r = [registry]
  const blockIndex = new Gauge({ name: 'kale_pool_block_index', help: 'Current KALE block index', registers: r })
  const blockOpenedSeconds = new Gauge({ name: 'kale_pool_block_opened_seconds', help: 'Ledger time (unix seconds) the current block opened (kale_pool_block_age_seconds is its age on this process clock)', registers: r })
  const blockAge = new BlockAgeClock()
  const m = {
    registry,
    // stratum
    sessionsConnected: new Gauge({ name: 'kale_pool_sessions_connected', help: 'Miner sessions connected', registers: r }),
    sessionsAuthorized: new Gauge({ name: 'kale_pool_sessions_authorized', help: 'Miner sessions authorized', registers: r }),
    connectionsRefusedTotal: new Counter({ name: 'kale_pool_connections_refused_total', help: 'Connections refused, by reason', labelNames: ['reason'] as const, registers: r }),
    sharesTotal: new Counter({ name: 'kale_pool_shares_total', help: 'Submitted shares by result', labelNames: ['result'] as const, registers: r }),
    acceptedDifficultyTotal: new Counter({ name: 'kale_pool_accepted_difficulty_total', help: 'Sum of the difficulty of accepted shares (rate() = hashes/s)', registers: r }),
    bansTotal: new Counter({ name: 'kale_pool_bans_total', help: 'IPs banned for invalid shares', registers: r }),
    protocolErrorsTotal: new Counter({ name: 'kale_pool_protocol_errors_total', help: 'Protocol errors by JSON-RPC code', labelNames: ['code'] as const, registers: r }),
    verifySeconds: new Histogram({ name: 'kale_pool_verify_seconds', help: 'Share verification latency (queue + hash)', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5], registers: r }),
    verifyQueueDepth: new Gauge({ name: 'kale_pool_verify_queue_depth', help: 'Verification tasks waiting for a worker thread', registers: r }),
    verifySharesInFlight: new Gauge({ name: 'kale_pool_verify_shares_in_flight', help: 'Shares sent to verification and not yet answered (bound: VERIFY_SHARES_IN_FLIGHT_MAX)', registers: r }),
    noncesRemembered: new Gauge({ name: 'kale_pool_stratum_nonces_remembered', help: 'Nonces remembered for duplicate detection in this block, all sessions (bound: STRATUM_NONCES_REMEMBERED_MAX)', registers: r }),
    verifyBatchShares: new Histogram({ name: 'kale_pool_verify_batch_shares', help: 'Shares per verification task', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers: r }),
    notifySeconds: new Histogram({ name: 'kale_pool_notify_seconds', help: 'Time to write one job notify to every session', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1], registers: r }),
    // chain
    blockIndex,
    blockOpenedSeconds,
    /** fed by the integration when the watcher sees a block; read by the gauge below and /health */
    blockAge,
    // Computed at scrape time, so nobody has to tick it. On a fast devnet clock
    // the local seconds since the sighting understate the ledger-time age.
    blockAgeSeconds: new Gauge({
      name: 'kale_pool_block_age_seconds',
      help: 'Seconds since the current block opened: its ledger age when first seen plus the local time since (0 before the first block)',
      registers: r,
      async collect() {
        const index = (await blockIndex.get()).values[0]?.value ?? 0
        const opened = (await blockOpenedSeconds.get()).values[0]?.value ?? 0
        this.set(blockAge.seconds(index, opened))
      },
    }),
    pailsTotal: new Counter({ name: 'kale_pool_pails_total', help: 'Pails by stage', labelNames: ['stage'] as const, registers: r }),
    chainTxTotal: new Counter({ name: 'kale_pool_chain_transactions_total', help: 'Chain transactions by operation and result', labelNames: ['op', 'result'] as const, registers: r }),
    chainTxSeconds: new Histogram({ name: 'kale_pool_chain_transaction_seconds', help: 'Chain transaction latency, simulate to final status', labelNames: ['op'] as const, buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80], registers: r }),
    chainFeesStroopsTotal: new Counter({ name: 'kale_pool_chain_fees_stroops_total', help: 'Fees paid by chain transactions, in stroops', labelNames: ['op'] as const, registers: r }),
    rpcErrorsTotal: new Counter({ name: 'kale_pool_rpc_errors_total', help: 'RPC failures by error code', labelNames: ['code'] as const, registers: r }),
    farmersActive: new Gauge({ name: 'kale_pool_farmers_active', help: 'Active farmer accounts', registers: r }),
    // ledger
    rewardsStroopsTotal: new Counter({ name: 'kale_pool_rewards_stroops_total', help: 'Harvest rewards credited to miners, in stroops', registers: r }),
    feesStroopsTotal: new Counter({ name: 'kale_pool_fees_stroops_total', help: 'Pool fees kept from rewards, in stroops', registers: r }),
    payoutsTotal: new Counter({ name: 'kale_pool_payouts_total', help: 'Payout entries by result', labelNames: ['result'] as const, registers: r }),
    payoutsStroopsTotal: new Counter({ name: 'kale_pool_payouts_stroops_total', help: 'KALE paid out to miners, in stroops', registers: r }),
    dbFlushSeconds: new Histogram({ name: 'kale_pool_db_flush_seconds', help: 'Share flush latency', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers: r }),
    dbBufferedRows: new Gauge({ name: 'kale_pool_db_buffered_rows', help: 'Share rows buffered in memory, not yet written', registers: r }),
    dbErrorsTotal: new Counter({ name: 'kale_pool_db_errors_total', help: 'Database operation failures', registers: r }),
    // http
    httpRequestsTotal: new Counter({ name: 'kale_pool_http_requests_total', help: 'HTTP requests by route pattern and status code', labelNames: ['route', 'status'] as const, registers: r }),
    httpRequestSeconds: new Histogram({ name: 'kale_pool_http_request_seconds', help: 'HTTP request handling latency by route pattern', labelNames: ['route'] as const, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: r }),
  }
  // Closed label sets start at 0 so dashboards and rate() see every series from the first scrape.
  for (const result of SHARE_RESULTS) m.sharesTotal.labels(result).inc(0)
  for (const stage of PAIL_STAGES) m.pailsTotal.labels(stage).inc(0)
  return m
}

export type Metrics = ReturnType<typeof createMetrics>

let defaultMetrics: Metrics | undefined

/** The process-wide metrics (one registry, Node's default metrics included). */
export function metrics(): Metrics {
  if (!defaultMetrics) {
    defaultMetrics = createMetrics()
    collectDefaultMetrics({ register: defaultMetrics.registry })
  }
  return defaultMetrics
}
