// What the block cycle's phases (plant, work, close-out, harvest) share: the
// scheduler's options, the state it keeps between ledgers, and the reads and
// records every phase makes. The chain and the store decide what is done; this
// state only saves round trips within one process and is rebuilt after a restart.
import type { EventEmitter } from 'node:events'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { BestWork, BestWorkSource, BlockEvent } from '../events.js'
import type { ChainOp, ChainOpRecord, ChainOpStatus, ChainStore } from './store.js'
import { blockKey, contractDataValue, decodeBlock, decodePail, decodeTrustlineBalance, keyId, pailKey, trustlineKey, type BlockData, type PailData } from './contract.js'
import { contractErrorVerdict } from './cycle.js'
import type { LedgerClock } from './clock.js'
import type { NetworkInfo } from './network.js'
import { readEntries, type RpcClient } from './rpc.js'
import type { Signer } from './signer.js'
import type { Submitter, TxResult } from './submitter.js'

export interface ActiveFarmer {
  signer: Signer
  stakePercent: number
}

export interface HarvestedEvent {
  index: number
  rewards: Array<{ farmer: string; rewardStroops: bigint; stakeStroops: bigint }>
}

export interface SchedulerOptions {
  rpc: RpcClient
  net: NetworkInfo
  clock: LedgerClock
  submitter: Submitter
  store: ChainStore
  log: Logger
  metrics?: Metrics | undefined
  bestWork: BestWorkSource
  workLeadSeconds: number
  /** real ms per ledger: the watcher polls a few times per ledger */
  ledgerMs: number
  /** nonces the pool hashes itself per planted farmer (fallback work) */
  selfHashNonces?: number
  /** the farmer's work for `index` is being submitted: its jobs are stale from now on */
  onWorked?: (index: number, farmer: string) => void
}

export type Verdict = 'done' | 'retry' | 'lost'

export type PailReads = Map<string, { pail: PailData; liveUntil: number | undefined }>

/** > the submitter's 60 s (12-ledger) validity window, with margin */
const PENDING_EXPIRY_LEDGERS = 20
export const WATCH_POLLS_PER_LEDGER = 4

/** Blocks a per-block set keeps behind the newest one it was given (markBlock's default). */
export const BLOCKS_KEPT = 4

/** Adds block `index` to `set` and forgets blocks more than `kept` older: the set stays bounded for the life of the process. */
export function markBlock(set: Set<number>, index: number, kept = BLOCKS_KEPT): void {
  set.add(index)
  for (const k of set) if (k < index - kept) set.delete(k)
}

export class CycleState {
  farmers = new Map<string, ActiveFarmer>()
  /** signers of farmers no longer active: their pails are still worked and harvested (no auth needed) */
  readonly retired = new Map<string, Signer>()
  /** plant runs in flight, by block: a work phase works what they plant */
  readonly plantRuns = new Map<number, Promise<void>>()
  /** past blocks in which this process left a row pending or failed: the close-out sweep resolves them */
  readonly openBlocks = new Set<number>()
  /** The close-out's look-back (closeout.ts): the next block to check, going down, and the last one. */
  lookBackNext: number | undefined
  lookBackEnd: number | undefined
  anySource = 0
  openerStake: { index: number; pk: string; stake: bigint; ended: number } | undefined
  current: BlockEvent | undefined
  stopped = false
  readonly planted = new Map<number, Set<string>>()
  readonly fallback = new Map<string, BestWork>()
  /** names of the phases running now */
  readonly busy = new Set<string>()
  /** blocks whose plant phase / work phase ended (markBlock keeps the last few: only the current block is asked about) */
  readonly plantDone = new Set<number>()
  readonly workDone = new Set<number>()
  readonly workRuns = new Map<number, Promise<void>>()
  readonly worksClosed = new Set<number>()
  lastHarvestLedger = 0
  plantRun: Promise<void> | undefined
  readonly emittedHarvest = new Set<number>()

  /** `events` is the Scheduler: the phases emit its 'planted' and 'harvested' events. */
  constructor(readonly o: SchedulerOptions, readonly events: EventEmitter) {}

  async record(farmer: string, block: number, op: ChainOp, status: ChainOpStatus, fields: Partial<ChainOpRecord> = {}): Promise<void> {
    if (this.stopped) return
    if (status === 'pending' || status === 'failed') this.openBlocks.add(block)
    await this.o.store.recordOp({
      farmer, block, op, status, txHash: null, feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: Date.now(), ...fields,
    })
  }

  /** Records a transaction's outcome; returns what it means for the cycle. */
  async settle(pk: string, index: number, op: ChainOp, res: TxResult, extra: Partial<ChainOpRecord>): Promise<Verdict> {
    if (res.status === 'success') {
      await this.record(pk, index, op, 'done', { ...extra, txHash: res.hash, feeStroops: res.feeStroops })
      return 'done'
    }
    if (res.status === 'contract-error') {
      const v = contractErrorVerdict(op, res.code)
      const reason = `contract error #${res.code}`
      if (v === 'done') await this.record(pk, index, op, 'done', { ...extra, txHash: res.hash, feeStroops: res.feeStroops, reason })
      else await this.record(pk, index, op, v === 'lost' ? 'lost' : 'failed', { ...extra, txHash: res.hash, feeStroops: res.feeStroops, reason })
      if (v === 'lost') this.o.metrics?.pailsTotal.inc({ stage: 'lost' })
      return v
    }
    await this.record(pk, index, op, 'failed', { ...extra, txHash: res.hash, feeStroops: res.feeStroops, reason: res.reason })
    return 'retry'
  }

  /** A pending record older than a transaction's validity window can no longer apply. */
  pendingExpired(op: ChainOpRecord): boolean {
    return Date.now() - op.updatedAt > PENDING_EXPIRY_LEDGERS * this.o.ledgerMs
  }

  /** Outcome of a recorded hash; 'todo' when it never applied (the contract stops a double plant anyway). */
  async checkHash(hash: string): Promise<TxResult | undefined> {
    const st = await this.o.submitter.status(hash)
    if (st.status !== 'success') return undefined
    return { status: 'success', hash, ledger: st.ledger, feeStroops: st.feeStroops, returnValue: st.returnValue }
  }

  async readPails(index: number, farmers: readonly string[]): Promise<PailReads> {
    const keys = farmers.map((f) => pailKey(this.o.net.contractId, f, index))
    const { entries } = await readEntries(this.o.rpc, keys)
    const out: PailReads = new Map()
    farmers.forEach((f, i) => {
      const e = entries.get(keyId(keys[i]!))
      if (e) out.set(f, { pail: decodePail(contractDataValue(e.val)), liveUntil: e.liveUntilLedgerSeq })
    })
    return out
  }

  async readBlock(index: number): Promise<BlockData | undefined> {
    const key = blockKey(this.o.net.contractId, index)
    const { entries } = await readEntries(this.o.rpc, [key])
    const e = entries.get(keyId(key))
    return e ? decodeBlock(contractDataValue(e.val)) : undefined
  }

  async balances(farmers: readonly ActiveFarmer[]): Promise<Map<string, bigint>> {
    const staking = farmers.filter((f) => f.stakePercent > 0)
    const out = new Map<string, bigint>()
    if (staking.length === 0) return out
    const keys = staking.map((f) => trustlineKey(f.signer.publicKey, this.o.net.asset))
    const { entries } = await readEntries(this.o.rpc, keys)
    staking.forEach((f, i) => {
      const e = entries.get(keyId(keys[i]!))
      out.set(f.signer.publicKey, e ? decodeTrustlineBalance(e.val) : 0n)
    })
    return out
  }

  plantedSet(index: number): Set<string> {
    let s = this.planted.get(index)
    if (!s) {
      s = new Set()
      this.planted.set(index, s)
      for (const k of this.planted.keys()) if (k < index - 2) this.planted.delete(k)
    }
    return s
  }

  /** Who pays for a work or harvest of `pk` (neither needs the farmer's auth): its own account while the pool holds its key, else an active farmer's. */
  sourceFor(pk: string): Signer | undefined {
    const own = this.farmers.get(pk)?.signer ?? this.retired.get(pk)
    if (own) return own
    const all = [...this.farmers.values()]
    if (all.length === 0) return undefined
    const idle = all.find((f) => this.o.submitter.idle(f.signer.publicKey))
    return (idle ?? all[this.anySource++ % all.length]!).signer
  }
}
