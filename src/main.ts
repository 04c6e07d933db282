// Wiring and lifecycle of the one long-lived pool process (ARCHITECTURE.md).
// Start order: lock → database → devnet (if embedded) → network → chain →
// verifier → share intake → stratum and HTTP listening → farmers → block cycle
// → payouts. Both ports are bound before any chain activity, so a taken port
// stops the pool before it has done anything.
// Stop order (stop()): what holds miners' work goes first, what can wait goes
// last. An orchestrator's grace period may end in SIGKILL at any point, so
// accepted shares reach the database within the first seconds, not after the
// chain drain:
//   1. no new chain phases or blocks, and no new payout: the running chain
//      phases and the payout being sent go on (awaited in 4);
//   2. HTTP closes; miners are told to reconnect; stratum stops reading and
//      answers the shares it was verifying (≤ 2.3 s), the verifier finishes its
//      batches (≤ 2 s);
//   3. the last shares are flushed (≤ SHARE_DRAIN_MS);
//   4. the payout run (≤ PAYOUT_DRAIN_MS from the stop: payouts are recorded
//      before they are sent, so one cut short is reconciled at the next start)
//      and the chain phases (≤ CHAIN_DRAIN_MS from the stop; then halted) finish
//      and record their outcomes;
//   5. chain records (write-behind), devnet, pool lock, database, data-dir lock.
import path from 'node:path'
import type { Config } from './config.js'
import { PoolError, ErrorCode } from './errors.js'
import { within, TIMED_OUT } from './deadline.js'
import { registerSecrets, type Logger } from './log.js'
import { metrics as defaultMetrics, type Metrics } from './metrics/metrics.js'
import { lockDataDir, type DataDirLock } from './lockfile.js'
import { openDb, holdPoolLock, type Db } from './ledger/db.js'
import { migrate } from './ledger/migrate.js'
import { ShareBuffer } from './ledger/shares.js'
import { PgChainStore } from './ledger/chain-store.js'
import { WriteBehindChainStore } from './chain/write-behind-store.js'
import { recordBlock, rewardSettledBlocks } from './ledger/credits.js'
import { startDevnet, type Devnet } from './devnet/index.js'
import { resolveNetwork, type NetworkInfo } from './chain/network.js'
import { loadMasterKey } from './chain/secrets.js'
import { signerFromSeed } from './chain/signer.js'
import { decodeStrKey, VersionByte } from './kale/strkey.js'
import { createChain, type Chain } from './chain/index.js'
import { ensureFarmers, activeFarmers, createFarmers } from './chain/farmers.js'
import type { HarvestedEvent } from './chain/scheduler.js'
import type { BlockEvent } from './events.js'
import { Verifier } from './workers/verifier.js'
import { StratumServer } from './stratum/server.js'
import { startHttpServer, type HttpServer } from './http/server.js'
import { createPoolView, PROBE_TIMEOUT_MS } from './http/pool-view.js'
import { RpcClient } from './chain/rpc.js'
import { createLedgerReads } from './ledger/queries.js'
import { PayoutRunner } from './ledger/payout-runner.js'

export interface PoolHandle {
  config: Config
  net: NetworkInfo
  devnet: Devnet | undefined
  db: Db
  chain: Chain
  stratum: StratumServer
  shares: ShareBuffer
  http: HttpServer
  payouts: PayoutRunner
  stratumPort: number
  httpUrl: string
  /** Graceful stop: reconnect miners, flush shares, let chain work finish, close everything. */
  stop(): Promise<void>
}

export interface StartOptions {
  log: Logger
  metrics?: Metrics
  /** stratum coarse-timer period (tests pass less) */
  tickMs?: number
  /** how long stop() waits for chain phases in flight (default CHAIN_DRAIN_MS; tests pass less) */
  chainDrainMs?: number
  /** how long stop() waits for a payout run in progress (default PAYOUT_DRAIN_MS; tests pass less) */
  payoutDrainMs?: number
}

/** Milliseconds a graceful stop waits for in-flight chain transactions. */
const CHAIN_DRAIN_MS = 15_000
/** Milliseconds a graceful stop waits for the last share flush. */
const SHARE_DRAIN_MS = 10_000
/** Milliseconds a graceful stop waits for a payout run in progress (it finishes the payout it is sending and starts no other). */
const PAYOUT_DRAIN_MS = 5_000
/** Milliseconds the verifier's batches in flight get once stratum has closed (it already waited up to 2 s for its sessions' shares). */
const VERIFIER_CLOSE_GRACE_MS = 2_000

/** `fn` run at most once: later calls share the first call's promise (stop() runs steps early that cleanup runs again). */
function once(fn: () => Promise<void> | void): () => Promise<void> {
  let p: Promise<void> | undefined
  return () => (p ??= Promise.resolve().then(fn))
}

export async function startPool(config: Config, o: StartOptions): Promise<PoolHandle> {
  const log = o.log
  const m = o.metrics ?? defaultMetrics()
  const cleanup: Array<() => Promise<void> | void> = []
  const undo = async (): Promise<void> => {
    for (const fn of cleanup.reverse()) await Promise.resolve().then(fn).catch((err: unknown) => log.warn({ err }, 'cleanup failed'))
  }
  try {
    const lock: DataDirLock = lockDataDir(config.dataDir)
    cleanup.push(() => lock.release())

    const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: config.databasePoolMax })
    cleanup.push(() => db.close())
    if (config.databaseUrl !== undefined) {
      const held = await holdPoolLock({ databaseUrl: config.databaseUrl })
      cleanup.push(() => held.release())
    }
    const applied = await migrate(db.sql)
    log.info({ database: db.where, applied }, 'database ready')

    let devnet: Devnet | undefined
    let rpcUrl = config.stellarRpcUrl
    if (config.kaleNetwork === 'devnet' && rpcUrl === undefined) {
      devnet = await startDevnet({ port: config.devnetPort, host: '127.0.0.1', ledgerMs: config.devnetLedgerMs, dataDir: path.join(config.dataDir, 'devnet') })
      cleanup.push(() => devnet?.close())
      rpcUrl = devnet.info.rpcUrl
      log.info({ rpcUrl, ledgerMs: devnet.info.ledgerMs }, 'devnet running in-process')
    }
    const net = await resolveNetwork({ kaleNetwork: config.kaleNetwork, rpcUrl, timeoutMs: config.rpcTimeoutMs })
    const masterKey = loadMasterKey({ kaleNetwork: config.kaleNetwork, masterKey: config.masterKey, masterKeyFile: config.masterKeyFile, dataDir: config.dataDir })
    // Read from a file (or generated on the devnet) it is not among the config's secrets: the logs scrub it too.
    registerSecrets([masterKey.toString('hex')])
    // Chain records are written behind: a database outage never stalls the block cycle.
    const store = new WriteBehindChainStore(new PgChainStore(db.sql), { log })
    cleanup.push(async () => {
      await store.close(CHAIN_DRAIN_MS)
    })

    const verifier = new Verifier({
      threads: config.verifyThreads, batchMax: config.verifyBatchMax, batchMs: config.verifyBatchMs,
      queueMax: config.verifyQueueMax, sharesInFlightMax: config.verifySharesInFlightMax, idleTimeoutMs: config.verifyIdleTimeoutMs, metrics: m, log,
    })
    // Batches still in flight after stratum's close are answered within the grace (their shares reach the buffer before its last flush).
    const closeVerifier = once(() => verifier.close(VERIFIER_CLOSE_GRACE_MS))
    cleanup.push(closeVerifier)
    const shares = new ShareBuffer({ sql: db.sql, flushMs: config.shareFlushMs, rowsMax: config.shareBufferRowsMax, log, metrics: m })
    shares.start()
    const flushShares = once(async () => {
      if (!(await shares.stop(SHARE_DRAIN_MS))) {
        // The database stayed away through the drain: these shares are not credited.
        log.error({ rows: shares.bufferedRows }, 'stopped with share rows the database never took: their shares are lost')
      }
    })
    cleanup.push(flushShares)
    const stratum = new StratumServer({ ...config, tickMs: o.tickMs }, { verifier, shares, logger: log, metrics: m })
    const closeStratum = once(() => stratum.close())
    cleanup.push(closeStratum)

    const chain = createChain({
      net, store, log, metrics: m, masterKey,
      funder: fundingSigner(config.fundingSecret),
      bestWork: stratum.bestWork,
      rpcTimeoutMs: config.rpcTimeoutMs, rpcRetriesMax: config.rpcRetriesMax, chainConcurrencyMax: config.chainConcurrencyMax,
      feeInclusionMaxStroops: config.feeInclusionMaxStroops, feeResourceMaxStroops: config.feeResourceMaxStroops, workLeadSeconds: config.workLeadSeconds, farmerXlmMin: config.farmerXlmMin,
      onWorked: (index, farmer) => stratum.markWorked(index, farmer),
    })
    const policy = { feePercent: config.poolFeePercent, scheme: config.payoutScheme, pplnsBlocks: config.pplnsBlocks }
    const reward = (): void => {
      rewardSettledBlocks(db.sql, policy, m, shares).then(
        (done) => { for (const b of done) log.info({ block: b.block, pot: b.potStroops.toString(), fee: b.feeStroops.toString(), miners: b.credits.length }, 'block rewarded') },
        (err: unknown) => log.warn({ err }, 'rewarding failed; retried at the next harvest'),
      )
    }
    chain.scheduler.on('block', (ev: BlockEvent) => {
      // Block age counts on this process's clock from the watcher's sighting (a
      // resumed devnet's ledger time lags the wall clock by its downtime).
      m.blockAge.seen(ev.index, ev.timestamp, chain.clock.closeTime)
      stratum.onBlock(ev)
      recordBlock(db.sql, ev).catch((err: unknown) => log.warn({ err, block: ev.index }, 'recording block failed'))
    })
    chain.scheduler.on('planted', (ev) => stratum.onPlanted(ev))
    chain.scheduler.on('harvested', (ev: HarvestedEvent) => {
      log.info({ block: ev.index, pails: ev.rewards.length }, 'block harvested')
      reward()
    })

    // Both ports first: a taken port stops the pool before any chain activity
    // (farmer accounts are created and funded below). Miners may connect now; they
    // get work once the block cycle has planted.
    const { port: stratumPort } = await stratum.listen()

    const payouts = new PayoutRunner({
      sql: db.sql, net, log, metrics: m,
      // Payouts share the farmer accounts' lanes with plant/work/harvest: one pending transaction per source.
      submitter: chain.submitter,
      signerFor: async (publicKey) => {
        const f = activeFarmers(await store.listFarmers(), masterKey).find((x) => x.signer.publicKey === publicKey)
        return f?.signer
      },
      thresholdKale: config.payoutThresholdKale, intervalSeconds: config.payoutIntervalSeconds,
      rpcTimeoutMs: config.rpcTimeoutMs,
      onSkipped: (address, reason) => stratum.showMessage(address, reason),
    })
    // Until the farmer accounts are ready, admin operations answer 503 (an added
    // farmer would race ensureFarmers' list into the scheduler).
    let ready = false
    const whenReady = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      if (!ready) throw new PoolError(ErrorCode.BUSY, 'the pool is still starting (farmer accounts); try again shortly')
      return fn(...a)
    }

    // /health's RPC probe has its own client: one try, its own sockets. The block
    // cycle's client retries with backoff and remembers faults to start deadline
    // work early; a probe must neither wait on those retries nor add to those faults.
    const healthRpc = new RpcClient(net.rpcUrl, { timeoutMs: Math.min(config.rpcTimeoutMs, PROBE_TIMEOUT_MS), retriesMax: 0 })
    const view = createPoolView({
      reads: createLedgerReads(db.sql),
      admin: {
        addFarmers: whenReady(async (count: number, stakePercent: number) => {
          const publicKeys = await createFarmers(chain.accounts, count, stakePercent)
          chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), masterKey))
          return { publicKeys }
        }),
        disableFarmer: whenReady(async (publicKey: string) => {
          const known = (await store.listFarmers()).some((f) => f.publicKey === publicKey)
          if (!known) return false
          await store.setFarmerStatus(publicKey, 'disabled')
          chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), masterKey))
          return true
        }),
        runPayouts: whenReady(() => payouts.runOnce()),
      },
      probes: {
        rpc: async () => { await healthRpc.raw('getLatestLedger', {}, false) },
        database: async () => { await db.sql`SELECT 1` },
        stratumListening: () => stratum.listening,
      },
      metrics: m,
      poolFeePercent: config.poolFeePercent, payoutScheme: config.payoutScheme, pplnsBlocks: config.pplnsBlocks,
      payoutThresholdKale: config.payoutThresholdKale,
    })
    const http = await startHttpServer({
      host: config.httpHost, port: config.httpPort, view, metrics: m, logger: log, adminToken: config.adminToken, stakePercentDefault: config.stakePercent,
      viewsInFlightMax: config.httpViewsInFlightMax, writeStallMs: config.httpWriteStallSeconds * 1000,
    })
    const closeHttp = once(() => http.close())
    cleanup.push(closeHttp)

    const farmers = await ensureFarmers(chain.accounts, config.farmers, config.stakePercent)
    chain.scheduler.setFarmers(farmers)
    log.info({ farmers: farmers.length }, 'farmer accounts ready')
    ready = true
    chain.scheduler.start()
    // After both waits (cleanup runs in reverse): whatever still runs sends nothing
    // more and records nothing, as in a crash. Not before the payout wait ends: the
    // payouts share the farmer accounts' lanes, which this halts.
    cleanup.push(once(() => chain.scheduler.stop()))
    const drainChain = once(async () => {
      chain.scheduler.drain()
      // idle() settles every phase (allSettled): it never rejects.
      if ((await within(chain.scheduler.idle(), o.chainDrainMs ?? CHAIN_DRAIN_MS)) === TIMED_OUT) {
        log.warn('stopped with chain phases still in flight: their outcomes are read from the chain at the next start')
      }
    })
    cleanup.push(drainChain)
    reward() // blocks settled before a restart

    payouts.start()
    const stopPayouts = once(async () => {
      // stop() swallows the run's failure (logged by the run): it never rejects.
      if ((await within(payouts.stop(), o.payoutDrainMs ?? PAYOUT_DRAIN_MS)) === TIMED_OUT) {
        log.warn('stopped with a payout run in progress: its recorded payouts are reconciled by hash at the next start')
      }
    })
    cleanup.push(stopPayouts)

    let stopping: Promise<void> | undefined
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        log.info('stopping: no new chain phases or payouts, miners asked to reconnect, flushing shares')
        // Steps 1–5 of the stop order (top of this file); undo() then runs the
        // rest, and these again as no-ops. A step that fails does not skip the
        // next: undo() logs its error when it meets the same promise. The chain
        // and payout waits start now and run beside the share steps.
        const step = (p: Promise<void>): Promise<void> => p.catch(() => undefined)
        const chainDrained = step(drainChain())
        const payoutsStopped = step(stopPayouts())
        stratum.reconnectAll(5)
        await step(closeHttp())
        await step(closeStratum())
        await step(closeVerifier())
        await step(flushShares())
        await payoutsStopped
        await chainDrained
        await undo()
        log.info('stopped')
      })()
      return stopping
    }
    return { config, net, devnet, db, chain, stratum, shares, http, payouts, stratumPort, httpUrl: http.url, stop }
  } catch (err) {
    await undo()
    throw err
  }
}

function fundingSigner(secret: string | undefined): ReturnType<typeof signerFromSeed> | undefined {
  if (secret === undefined) return undefined
  const seed = decodeStrKey(VersionByte.seed, secret)
  // config.ts checked the shape; the checksum is checked here. Never echo the value.
  if (!seed) throw new PoolError(ErrorCode.CONFIG_INVALID, 'FUNDING_SECRET must be a valid Stellar secret key (checksum failed)')
  return signerFromSeed(seed)
}
