// Runs payouts every PAYOUT_INTERVAL_SECONDS (and on demand from the admin API):
// wires ledger/payouts.ts to the chain's KALE payments. One run at a time.
import { KalePayments } from '../chain/payments.js'
import type { NetworkInfo } from '../chain/network.js'
import { RpcClient } from '../chain/rpc.js'
import type { Signer } from '../chain/signer.js'
import type { Submitter } from '../chain/submitter.js'
import { PoolError, ErrorCode } from '../errors.js'
import { kaleToStroops } from '../kale/reward.js'
import type { Logger } from '../log.js'
import { silentLogger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Sql } from './db.js'
import { Payouts, type PayoutRunSummary, type PayoutsOptions } from './payouts.js'

export interface PayoutRunnerOptions {
  sql: Sql
  net: Pick<NetworkInfo, 'rpcUrl' | 'networkPassphrase' | 'asset'>
  signerFor: (publicKey: string) => Signer | undefined | Promise<Signer | undefined>
  thresholdKale: number
  intervalSeconds: number
  rpcTimeoutMs: number
  rpcRetriesMax?: number
  onSkipped?: (address: string, reason: string) => void
  /**
   * The chain's submitter (createChain().submitter): payouts then go through the
   * farmer account's lane, serialized with its plant/work/harvest and sharing its
   * sequence number. Without it they are sent beside the lanes (a pending payout
   * can then push that farmer's work out of its window).
   */
  submitter?: Submitter
  log?: Logger
  metrics?: Metrics
  /** passed through to Payouts (tests: short time bounds, hooks) */
  tuning?: Partial<Omit<PayoutsOptions, 'sql' | 'chain' | 'thresholdStroops'>>
}

const KALE_DECIMALS = 7

/** PAYOUT_THRESHOLD_KALE (a number) → stroops, exactly as written with ≤ 7 decimals. */
export function thresholdStroops(kale: number): bigint {
  const s = kaleToStroops(kale.toFixed(KALE_DECIMALS))
  if (s === null || s <= 0n) throw new PoolError(ErrorCode.CONFIG_INVALID, 'PAYOUT_THRESHOLD_KALE must be a positive amount of KALE')
  return s
}

export class PayoutRunner {
  readonly payouts: Payouts
  private timer: NodeJS.Timeout | null = null
  private running: Promise<PayoutRunSummary> | null = null
  private readonly log: Logger

  constructor(private readonly o: PayoutRunnerOptions) {
    this.log = o.log ?? silentLogger()
    const rpc = new RpcClient(o.net.rpcUrl, { timeoutMs: o.rpcTimeoutMs, retriesMax: o.rpcRetriesMax ?? 2, metrics: o.metrics })
    const chain = new KalePayments({ rpc, networkPassphrase: o.net.networkPassphrase, asset: o.net.asset, signerOf: o.signerFor, submitter: o.submitter })
    this.payouts = new Payouts({
      ...o.tuning,
      sql: o.sql,
      chain,
      thresholdStroops: thresholdStroops(o.thresholdKale),
      ...(o.onSkipped ? { onSkipped: o.onSkipped } : {}),
      log: this.log,
      ...(o.metrics ? { metrics: o.metrics } : {}),
    })
  }

  /** One run now; a run already in progress is shared, not doubled. */
  runOnce(): Promise<PayoutRunSummary> {
    this.running ??= this.payouts.run().finally(() => {
      this.running = null
    })
    return this.running
  }

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => {
      this.runOnce().catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'payout run failed; retried next interval'))
    }, this.o.intervalSeconds * 1000)
    this.timer.unref()
  }

  /**
   * Stops the timer and waits for a run in progress, which finishes the payout it
   * is sending and starts no other (each is committed before it is sent either way).
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.payouts.halt()
    await this.running?.catch(() => undefined)
  }
}
