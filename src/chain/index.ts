// Wiring of the chain parts for one network: RPC client, ledger clock,
// submitter, scheduler, and the options farmer-account functions take.
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { BestWorkSource } from '../events.js'
import { LedgerClock } from './clock.js'
import type { NetworkInfo } from './network.js'
import { RpcClient } from './rpc.js'
import { Submitter } from './submitter.js'
import { Scheduler } from './scheduler.js'
import type { ChainStore } from './store.js'
import type { FarmerAccountsOptions } from './farmers.js'
import type { Signer } from './signer.js'

export interface ChainOptions {
  net: NetworkInfo
  store: ChainStore
  log: Logger
  metrics?: Metrics | undefined
  masterKey: Buffer
  funder?: Signer | undefined
  bestWork?: BestWorkSource
  rpcTimeoutMs: number
  rpcRetriesMax: number
  chainConcurrencyMax: number
  feeInclusionMaxStroops: number
  /** FEE_RESOURCE_MAX_STROOPS (default: the submitter's) */
  feeResourceMaxStroops?: number
  workLeadSeconds: number
  farmerXlmMin: number
  onWorked?: (index: number, farmer: string) => void
}

export interface Chain {
  rpc: RpcClient
  clock: LedgerClock
  submitter: Submitter
  scheduler: Scheduler
  accounts: FarmerAccountsOptions
}

const NO_BEST_WORK: BestWorkSource = { best: () => undefined }

export function createChain(o: ChainOptions): Chain {
  const rpc = new RpcClient(o.net.rpcUrl, { timeoutMs: o.rpcTimeoutMs, retriesMax: o.rpcRetriesMax, metrics: o.metrics })
  const clock = new LedgerClock({ ledgerMs: o.net.ledgerMs, log: o.log })
  const submitter = new Submitter({ rpc, net: o.net, clock, log: o.log, metrics: o.metrics, concurrencyMax: o.chainConcurrencyMax, feeInclusionMaxStroops: o.feeInclusionMaxStroops, feeResourceMaxStroops: o.feeResourceMaxStroops, pollMs: o.net.ledgerMs })
  const scheduler = new Scheduler({
    rpc, net: o.net, clock, submitter, store: o.store, log: o.log, metrics: o.metrics, bestWork: o.bestWork ?? NO_BEST_WORK,
    workLeadSeconds: o.workLeadSeconds, ledgerMs: o.net.ledgerMs, onWorked: o.onWorked,
  })
  const accounts: FarmerAccountsOptions = {
    rpc, net: o.net, submitter, store: o.store, masterKey: o.masterKey, log: o.log, funder: o.funder, farmerXlmMin: o.farmerXlmMin, requestTimeoutMs: o.rpcTimeoutMs,
  }
  return { rpc, clock, submitter, scheduler, accounts }
}
