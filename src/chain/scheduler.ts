// The block cycle (ARCHITECTURE.md): plant every active farmer when block N
// appears, open the next block with one plant when the open one is ≥ 300 s old,
// work every planted farmer WORK_LEAD_SECONDS before the earliest rollover,
// harvest every worked pail once FarmIndex > N, and close out every past block
// (no row of it left pending or failed, so its rewards never wait forever;
// a pail gone before our harvest is checked, never assumed worth 0). Work and
// harvest need no auth: a disabled farmer's pails go on. The chain and the store decide
// what is done, so a restarted scheduler skips what is done and resumes what is
// pending; the contract itself refuses a second plant (8) or harvest (9).
import { EventEmitter } from 'node:events'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { scValToNative } from '@stellar/stellar-sdk'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { BestWork, BestWorkSource, BlockEvent, PlantedEvent } from '../events.js'
import type { ChainOp, ChainOpRecord, ChainOpStatus, ChainStore } from './store.js'
import { blockKey, contractDataValue, decodeBlock, decodePail, decodeTrustlineBalance, harvestOp, keyId, pailIndexInFootprint, pailKey, plantOp, trustlineKey, workOp, type BlockData, type PailData } from './contract.js'
import { betterWork, contractErrorVerdict, derivedHarvestReward, harvestStep, isWorkDue, mayOpenNext, plantStep, stakeOf, workLeadFor, workStep } from './cycle.js'
import { selfWork, verifyWork } from './selfwork.js'
import type { LedgerClock } from './clock.js'
import type { NetworkInfo } from './network.js'
import { readEntries, type RpcClient } from './rpc.js'
import type { Signer } from './signer.js'
import type { Submitter, TxResult } from './submitter.js'
import { BlockWatcher, type ChainView } from './watcher.js'

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

const SELF_HASH_NONCES = 256
const HARVEST_RETRY_LEDGERS = 5
/** > the submitter's 60 s (12-ledger) validity window, with margin */
const PENDING_EXPIRY_LEDGERS = 20
const WATCH_POLLS_PER_LEDGER = 4
/** Stellar closes a ledger at most every 5 s of ledger time */
const LEDGER_SECONDS_MIN = 5
/** RPC faults this many blocks back (nominal 60 ledgers each) still widen the work's lead */
const FAULT_MEMORY_LEDGERS = 120
/** Event-loop stalls up to this long are normal jitter, not a reason to work earlier. */
const LOOP_LAG_TOLERATED_MS = 50
/** Sampling resolution of the event-loop delay monitor. */
const LOOP_LAG_RESOLUTION_MS = 10
/** A restarted process also sweeps this many blocks before the first one it sees (rows a crash left failed). */
const SWEEP_BACK_BLOCKS = 8

/** Events: 'block' (BlockEvent), 'planted' (PlantedEvent), 'harvested' (HarvestedEvent). */
export class Scheduler extends EventEmitter {
  readonly watcher: BlockWatcher
  private farmers = new Map<string, ActiveFarmer>()
  /** signers of farmers no longer active: their pails are still worked and harvested (no auth needed) */
  private readonly retired = new Map<string, Signer>()
  /** plant runs in flight, by block: a work phase works what they plant */
  private readonly plantRuns = new Map<number, Promise<void>>()
  /** past blocks in which this process left a row pending or failed: the close-out sweep resolves them */
  private readonly openBlocks = new Set<number>()
  private sweptBack = false
  private anySource = 0
  private openerStake: { index: number; pk: string; stake: bigint } | undefined
  private current: BlockEvent | undefined
  private stopped = false
  private draining = false
  /** event-loop delay since the current block opened (reset on each new block) */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_LAG_RESOLUTION_MS })
  private readonly planted = new Map<number, Set<string>>()
  private readonly fallback = new Map<string, BestWork>()
  private readonly busy = new Set<string>()
  private readonly plantDone = new Set<number>()
  private readonly workDone = new Set<number>()
  private readonly workRuns = new Map<number, Promise<void>>()
  private readonly worksClosed = new Set<number>()
  private closeTriedLedger = 0
  private lastHarvestLedger = 0
  private plantRun: Promise<void> | undefined
  private harvestBacklog = true
  private readonly inflight = new Set<Promise<unknown>>()

  constructor(private readonly o: SchedulerOptions) {
    super()
    this.watcher = new BlockWatcher({
      rpc: o.rpc, net: o.net, clock: o.clock, log: o.log, metrics: o.metrics,
      pollMs: o.ledgerMs / WATCH_POLLS_PER_LEDGER,
      onBlock: (ev, view) => this.onBlock(ev, view),
      onView: (view) => this.onView(view),
    })
  }

  setFarmers(list: readonly ActiveFarmer[]): void {
    for (const [pk, f] of this.farmers) this.retired.set(pk, f.signer)
    this.farmers = new Map(list.map((f) => [f.signer.publicKey, f]))
    for (const pk of this.farmers.keys()) this.retired.delete(pk)
    this.o.metrics?.farmersActive.set(this.farmers.size)
  }

  start(): void {
    this.stopped = false
    this.draining = false
    this.loopDelay.enable()
    this.o.submitter.resume()
    this.watcher.start()
  }

  /** Stops deciding and recording at once (as a killed process would); in-flight transactions are abandoned. */
  stop(): void {
    this.stopped = true
    this.loopDelay.disable()
    this.o.submitter.halt()
    this.watcher.stop()
  }

  /** Graceful stop: no new phases, the running ones finish and record their outcomes. */
  async shutdown(): Promise<void> {
    this.draining = true
    this.watcher.stop()
    await this.idle()
    this.loopDelay.disable()
  }

  /** Waits for the running phases (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
  }

  private phase(name: string, fn: () => Promise<void>): void {
    if (this.stopped || this.draining || this.busy.has(name)) return
    this.busy.add(name)
    const p = fn()
      .catch((err: unknown) => this.o.log.warn({ phase: name, code: (err as { code?: string }).code, reason: (err as Error).message }, 'chain phase failed; retried next ledger'))
      .finally(() => {
        this.busy.delete(name)
        this.inflight.delete(p)
      })
    this.inflight.add(p)
  }

  private onBlock(ev: BlockEvent, view: ChainView): void {
    this.current = ev
    this.loopDelay.reset()
    this.emit('block', ev)
    this.o.log.info({ index: ev.index, ledger: ev.ledger }, 'new block')
    this.phase(`plant:${ev.index}`, () => (this.plantRun = this.trackPlants(ev.index)))
    this.closeWorks(ev.index - 1)
    this.harvestBacklog = true
    this.maybeHarvest(view)
  }

  private onView(view: ChainView): void {
    const cur = this.current
    if (this.stopped) return
    if (!cur) {
      // Genesis (no Block yet) or an evicted block: the pool's plant creates it.
      if (!view.block && !view.paused) this.phase('open:none', () => this.openNext(view.farmIndex - 1))
      return
    }
    if (view.farmIndex === cur.index) {
      const workDue = isWorkDue(cur.timestamp, view.closeTime, this.workLeadSeconds())
      if (!this.plantDone.has(cur.index) && !workDue) {
        this.phase(`plant:${cur.index}`, () => this.trackPlants(cur.index))
      }
      if (!this.workDone.has(cur.index) && workDue) {
        this.phase(`work:${cur.index}`, () => {
          const run = this.workAll(cur)
          this.workRuns.set(cur.index, run)
          for (const k of this.workRuns.keys()) if (k < cur.index - 2) this.workRuns.delete(k)
          return run
        })
      }
      // Simulation runs at the next ledger's time (+5 s), so ask one ledger early; a #8 means "not yet" and retries.
      if (mayOpenNext(cur.timestamp, view.closeTime + LEDGER_SECONDS_MIN)) this.phase(`open:${cur.index}`, () => this.openNext(cur.index))
    }
    if (view.farmIndex > 0 && view.ledger !== this.closeTriedLedger) {
      this.closeTriedLedger = view.ledger
      this.closeWorks(view.farmIndex - 1)
    }
    this.maybeHarvest(view)
  }

  /**
   * The configured lead, widened by what one recent RPC fault cost and by how
   * long this process's event loop stalled during the block (see workLeadFor):
   * a loaded pool must start its works earlier for them to land in time (CI lost
   * works to #9/#13 when the loop stalled for ledgers at a time).
   */
  private workLeadSeconds(): number {
    const lagMs = Math.max(0, this.loopDelay.max / 1e6 - LOOP_LAG_TOLERATED_MS)
    return workLeadFor(this.o.workLeadSeconds, this.o.rpc.recentFaultCostMs(FAULT_MEMORY_LEDGERS * this.o.ledgerMs) + lagMs, this.o.ledgerMs)
  }

  private trackPlants(index: number): Promise<void> {
    const run = this.plantAll(index)
    this.plantRuns.set(index, run)
    const clear = (): void => { if (this.plantRuns.get(index) === run) this.plantRuns.delete(index) }
    run.then(clear, clear)
    return run
  }

  /** Who pays for a work or harvest of `pk` (neither needs the farmer's auth): its own account while the pool holds its key, else an active farmer's. */
  private sourceFor(pk: string): Signer | undefined {
    const own = this.farmers.get(pk)?.signer ?? this.retired.get(pk)
    if (own) return own
    const all = [...this.farmers.values()]
    if (all.length === 0) return undefined
    const idle = all.find((f) => this.o.submitter.idle(f.signer.publicKey))
    return (idle ?? all[this.anySource++ % all.length]!).signer
  }

  private closeWorks(index: number): void {
    if (index < 0 || this.worksClosed.has(index)) return
    this.phase(`close:${index}`, () => this.closeWorksOf(index))
  }

  /**
   * After the rollover: every planted pail of block `index` whose work is not
   * known to have landed is settled — done when the chain shows the work, lost
   * (with why) when it can no longer land — so the books hold every pail.
   */
  private async closeWorksOf(index: number): Promise<void> {
    await this.workRuns.get(index)?.catch(() => undefined)
    const ops = await this.o.store.opsOfBlock(index)
    const works = new Map(ops.filter((o) => o.op === 'work').map((o) => [o.farmer, o]))
    // Every done plant, and every work row left open whatever its plant's row says (a crash, an opener's stray row).
    const open = [...new Set([...ops.filter((o) => o.op === 'plant' && o.status === 'done').map((o) => o.farmer), ...works.keys()])]
      .filter((pk) => { const st = works.get(pk)?.status; return st !== 'done' && st !== 'lost' })
    let unresolved = false
    if (open.length > 0) {
      const pails = await this.readPails(index, open)
      await Promise.all(open.map(async (pk) => {
        const w = works.get(pk)
        const pail = pails.get(pk)?.pail
        if (pail && pail.zeros !== null) {
          await this.record(pk, index, 'work', 'done', { txHash: w?.txHash ?? null, feeStroops: w?.feeStroops ?? 0n, zeros: pail.zeros, gap: pail.gap })
          return
        }
        if (w?.status === 'pending' && w.txHash) {
          const res = await this.checkHash(w.txHash)
          if (res?.status === 'success') {
            const gap = res.returnValue ? Number(scValToNative(res.returnValue)) : null
            await this.record(pk, index, 'work', 'done', { txHash: w.txHash, feeStroops: res.feeStroops, zeros: w.zeros, gap })
            return
          }
          if (!this.pendingExpired(w)) {
            unresolved = true
            return
          }
        }
        const reason = `no work landed before the rollover${w?.reason ? ` (last attempt: ${w.reason})` : w ? '' : ' (none sent)'}`
        await this.record(pk, index, 'work', 'lost', { txHash: w?.txHash ?? null, feeStroops: w?.feeStroops ?? 0n, zeros: w?.zeros ?? null, reason })
        this.o.metrics?.pailsTotal.inc({ stage: 'lost' })
        this.o.log.warn({ index, farmer: pk, reason }, 'pail lost: work did not land')
      }))
    }
    if (unresolved || this.stopped) return
    this.worksClosed.add(index)
    for (const k of this.worksClosed) if (k < index - 2) this.worksClosed.delete(k)
  }

  private maybeHarvest(view: ChainView): void {
    if (!this.harvestBacklog && view.ledger - this.lastHarvestLedger < HARVEST_RETRY_LEDGERS) return
    this.lastHarvestLedger = view.ledger
    this.harvestBacklog = false
    this.phase('harvest', () => this.harvestDue(view))
  }

  private async record(farmer: string, block: number, op: ChainOp, status: ChainOpStatus, fields: Partial<ChainOpRecord> = {}): Promise<void> {
    if (this.stopped) return
    if (status === 'pending' || status === 'failed') this.openBlocks.add(block)
    await this.o.store.recordOp({
      farmer, block, op, status, txHash: null, feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: Date.now(), ...fields,
    })
  }

  private async readPails(index: number, farmers: readonly string[]): Promise<Map<string, { pail: PailData; liveUntil: number | undefined }>> {
    const keys = farmers.map((f) => pailKey(this.o.net.contractId, f, index))
    const { entries } = await readEntries(this.o.rpc, keys)
    const out = new Map<string, { pail: PailData; liveUntil: number | undefined }>()
    farmers.forEach((f, i) => {
      const e = entries.get(keyId(keys[i]!))
      if (e) out.set(f, { pail: decodePail(contractDataValue(e.val)), liveUntil: e.liveUntilLedgerSeq })
    })
    return out
  }

  private async balances(farmers: readonly ActiveFarmer[]): Promise<Map<string, bigint>> {
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

  private plantedSet(index: number): Set<string> {
    let s = this.planted.get(index)
    if (!s) {
      s = new Set()
      this.planted.set(index, s)
      for (const k of this.planted.keys()) if (k < index - 2) this.planted.delete(k)
    }
    return s
  }

  /** Outcome of a recorded hash; 'todo' when it never applied (the contract stops a double plant anyway). */
  private async checkHash(hash: string): Promise<TxResult | undefined> {
    const st = await this.o.submitter.status(hash)
    if (st.status !== 'success') return undefined
    return { status: 'success', hash, ledger: st.ledger, feeStroops: st.feeStroops, returnValue: st.returnValue }
  }

  private async plantAll(index: number): Promise<void> {
    const farmers = [...this.farmers.values()]
    const pks = farmers.map((f) => f.signer.publicKey)
    const [ops, pails, bals] = await Promise.all([this.o.store.opsOfBlock(index), this.readPails(index, pks), this.balances(farmers)])
    const plantOps = new Map(ops.filter((o) => o.op === 'plant').map((o) => [o.farmer, o]))
    const planted = this.plantedSet(index)
    let retry = false
    await Promise.all(farmers.map(async (f) => {
      const pk = f.signer.publicKey
      const op = plantOps.get(pk)
      const pail = pails.get(pk)?.pail
      let step = plantStep(op, pail)
      if (step === 'done') {
        if (pail && op?.status !== 'done') {
          // Planted by a transaction we sent (the opener, or before a restart): its hash gives the fee.
          const res = op?.txHash ? await this.checkHash(op.txHash) : undefined
          await this.record(pk, index, 'plant', 'done', { txHash: op?.txHash ?? null, amountStroops: pail.stake, feeStroops: res?.feeStroops ?? op?.feeStroops ?? 0n })
        }
        planted.add(pk)
        return
      }
      if (step === 'pending') {
        const res = await this.checkHash(op!.txHash!)
        if (res?.status === 'success') {
          await this.record(pk, index, 'plant', 'done', { txHash: op!.txHash, feeStroops: res.feeStroops, amountStroops: op!.amountStroops })
          planted.add(pk)
          return
        }
        step = 'todo'
      }
      const stake = stakeOf(bals.get(pk) ?? 0n, f.stakePercent)
      const res = await this.o.submitter.submit({
        source: f.signer, op: 'plant', invoke: plantOp(this.o.net.contractId, pk, stake),
        onSend: (hash) => this.record(pk, index, 'plant', 'pending', { txHash: hash, amountStroops: stake }),
      })
      // #8: an earlier plant of ours applied after all (sent before a restart): the pail holds its stake.
      const planted8 = res.status === 'contract-error' && res.code === 8 ? (await this.readPails(index, [pk])).get(pk)?.pail : undefined
      const v = await this.settle(pk, index, 'plant', res, { amountStroops: planted8?.stake ?? stake })
      if (v === 'done') planted.add(pk)
      if (v === 'retry') retry = true
    }))
    if (this.stopped) return
    if (!retry) this.plantDone.add(index)
    this.o.log.debug({ index, planted: planted.size, ledger: this.o.clock.ledger }, 'plants applied')
    this.o.metrics?.pailsTotal.inc({ stage: 'planted' }, planted.size)
    const ev: PlantedEvent = { index, farmers: [...planted] }
    this.emit('planted', ev)
    this.prepareFallback(index, ev.farmers)
  }

  /** Records a transaction's outcome; returns what it means for the cycle. */
  private async settle(pk: string, index: number, op: ChainOp, res: TxResult, extra: Partial<ChainOpRecord>): Promise<'done' | 'retry' | 'lost'> {
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

  /** Hashes a little per planted farmer in the background, so no pail goes unworked. */
  private prepareFallback(index: number, farmers: readonly string[]): void {
    const cur = this.current
    if (!cur || cur.index !== index) return
    const nonces = this.o.selfHashNonces ?? SELF_HASH_NONCES
    const todo = farmers.filter((f) => !this.fallback.has(`${index}/${f}`))
    const step = (i: number): void => {
      if (this.stopped || i >= todo.length) return
      const f = todo[i]!
      this.fallback.set(`${index}/${f}`, selfWork(index, cur.entropy, f, nonces))
      setImmediate(() => step(i + 1))
    }
    for (const k of this.fallback.keys()) if (Number(k.split('/')[0]) < index) this.fallback.delete(k)
    step(0)
  }

  private async openNext(index: number): Promise<void> {
    // A farmer with an idle lane opens at once (the others may still be waiting on their work).
    const all = [...this.farmers.values()]
    const opener = all.find((f) => this.o.submitter.idle(f.signer.publicKey)) ?? all[0]
    if (!opener) return
    this.o.log.debug({ index, ledger: this.o.clock.ledger, idle: this.o.submitter.idle(opener.signer.publicKey) }, 'opening next block')
    const pk = opener.signer.publicKey
    // The opener's pail of the next block is its plant of that block: staked by its policy like the others.
    // Read once per block and opener: the attempts every ledger around the rollover need no extra round trip.
    let stake = this.openerStake?.index === index && this.openerStake.pk === pk ? this.openerStake.stake : undefined
    if (stake === undefined) {
      stake = stakeOf((await this.balances([opener])).get(pk) ?? 0n, opener.stakePercent)
      this.openerStake = { index, pk, stake }
    }
    let target = index + 1
    const res = await this.o.submitter.submit({
      source: opener.signer, op: 'plant', invoke: plantOp(this.o.net.contractId, pk, stake),
      onSend: (hash, data) => {
        target = (data && pailIndexInFootprint(data, pk)) ?? index + 1
        // Already planted there (simulated before the rollover): this attempt can only get #8; a row would overwrite the done one.
        if (this.planted.get(target)?.has(pk)) return Promise.resolve()
        return this.record(pk, target, 'plant', 'pending', { txHash: hash, amountStroops: stake })
      },
    })
    this.o.log.debug({ index, target, status: res.status, code: res.status === 'contract-error' ? res.code : undefined, ledger: this.o.clock.ledger }, 'open attempt')
    // #8 here means the simulation still saw block `index`: not yet time; the next ledger tries again.
    // A row an earlier attempt left at another block is resolved by the close-out sweep.
    if (res.status === 'contract-error') return
    if (res.status === 'success' || !this.planted.get(target)?.has(pk)) await this.settle(pk, target, 'plant', res, { amountStroops: stake })
    if (res.status === 'success') this.plantedSet(target).add(pk)
  }

  private async workAll(block: BlockEvent): Promise<void> {
    const index = block.index
    this.o.log.debug({ index, ledger: this.o.clock.ledger, closeTime: this.o.clock.closeTime, rolloverAt: block.timestamp + 300, leadSeconds: this.workLeadSeconds() }, 'works due')
    const ops = await this.o.store.opsOfBlock(index)
    const workOps = new Map(ops.filter((o) => o.op === 'work').map((o) => [o.farmer, o]))
    const handled = new Set<string>()
    let retry = false
    const batch = async (pks: string[]): Promise<void> => {
      for (const pk of pks) handled.add(pk)
      const pails = await this.readPails(index, pks)
      await Promise.all(pks.map(async (pk) => {
        if ((await this.workOne(block, pk, workOps.get(pk), pails.get(pk)?.pail)) === 'retry') retry = true
      }))
    }
    // Every pail, the disabled farmers' too: work needs no auth.
    await batch([...new Set([...this.plantedSet(index), ...ops.filter((o) => o.op === 'plant' && o.status === 'done').map((o) => o.farmer)])])
    // Plants still in flight when the works fell due are worked as they land, while the block lasts.
    while (!this.stopped && (this.current?.index ?? index) === index) {
      const fresh = [...this.plantedSet(index)].filter((pk) => !handled.has(pk))
      if (fresh.length > 0) {
        await batch(fresh)
        continue
      }
      const running = this.plantRuns.get(index)
      if (!running) break
      await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, this.o.ledgerMs / WATCH_POLLS_PER_LEDGER))])
    }
    if (!retry && !this.stopped) this.workDone.add(index)
  }

  private async workOne(block: BlockEvent, pk: string, op: ChainOpRecord | undefined, pail: PailData | undefined): Promise<'done' | 'retry' | 'lost' | 'none'> {
    const index = block.index
    const step = workStep(op, pail)
    if (step === 'none') return 'none'
    if (step === 'done') {
      if (op?.status !== 'done' && pail) await this.record(pk, index, 'work', 'done', { txHash: op?.txHash ?? null, zeros: pail.zeros, gap: pail.gap })
      return 'done'
    }
    if (step === 'pending') {
      const res = await this.checkHash(op!.txHash!)
      if (res?.status === 'success') {
        const gap = res.returnValue ? Number(scValToNative(res.returnValue)) : null
        await this.settle(pk, index, 'work', res, { zeros: op!.zeros, gap })
        if (!this.stopped) this.o.onWorked?.(index, pk)
        return 'done'
      }
    }
    const source = this.sourceFor(pk)
    if (!source) return 'retry'
    const best = this.bestFor(block, pk)
    // The farmer's jobs go stale the moment its best hash is taken, not when
    // the work lands: a share accepted in between could beat the hash sent
    // (found by the e2e test: work with 5 zeros, a 6-zero share credited).
    if (!this.stopped) this.o.onWorked?.(index, pk)
    const res = await this.o.submitter.submit({
      source, op: 'work', invoke: workOp(this.o.net.contractId, pk, best.hash, best.nonce),
      onSend: (hash) => this.record(pk, index, 'work', 'pending', { txHash: hash, zeros: best.zeros }),
    })
    const gap = res.status === 'success' && res.returnValue ? Number(scValToNative(res.returnValue)) : null
    const v = await this.settle(pk, index, 'work', res, { zeros: best.zeros, gap })
    this.o.log.debug({ index, farmer: pk, status: res.status, landed: res.status === 'success' ? res.ledger : undefined, ledger: this.o.clock.ledger, verdict: v }, 'work outcome')
    if (v === 'done' && !this.stopped) this.o.metrics?.pailsTotal.inc({ stage: 'worked' })
    return v
  }

  private bestFor(block: BlockEvent, pk: string): BestWork {
    const fromMiners = this.o.bestWork.best(block.index, pk)
    const trusted = fromMiners && verifyWork(block.index, block.entropy, pk, fromMiners) ? fromMiners : undefined
    let own = this.fallback.get(`${block.index}/${pk}`)
    if (!own) {
      own = selfWork(block.index, block.entropy, pk, this.o.selfHashNonces ?? SELF_HASH_NONCES)
      this.fallback.set(`${block.index}/${pk}`, own)
    }
    return betterWork(trusted, own)!
  }

  private async harvestDue(view: ChainView): Promise<void> {
    // Plants are time-critical, harvests are not: let the block's plants take the lanes first.
    await this.plantRun?.catch(() => undefined)
    let unsettled = await this.o.store.unsettledOps()
    // A failing sweep (an old block's rows unreadable) must not hold up the harvests.
    const swept = await this.sweep(view, unsettled).catch((err: unknown) => {
      this.o.log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'close-out sweep failed; retried with the next harvests')
      return false
    })
    if (swept) unsettled = await this.o.store.unsettledOps()
    const byBlock = new Map<number, Set<string>>()
    for (const op of unsettled) {
      if (op.block >= view.farmIndex) continue
      if (op.op === 'work' || op.op === 'harvest') {
        let s = byBlock.get(op.block)
        if (!s) byBlock.set(op.block, (s = new Set()))
        s.add(op.farmer)
      }
    }
    for (const [index, set] of byBlock) {
      if (this.stopped) return
      await this.harvestBlock(index, [...set], view)
    }
  }

  /**
   * Close-out of past blocks: every plant or work row still pending or failed
   * in a block that is over is resolved from its hash and the pail, so no block
   * waits for its rewards forever (a plant that failed when the plant window
   * closed, rows a crash left behind, an opener's attempt at the wrong block).
   * Returns whether it changed anything.
   */
  private async sweep(view: ChainView, unsettled: readonly ChainOpRecord[]): Promise<boolean> {
    const blocks = new Set<number>([...this.openBlocks].filter((n) => n < view.farmIndex))
    for (const o of unsettled) if (o.block < view.farmIndex && o.op !== 'harvest' && o.status === 'pending') blocks.add(o.block)
    if (!this.sweptBack) {
      // Failed rows before a restart are not in unsettledOps: look back a few blocks once.
      for (let n = Math.max(0, view.farmIndex - SWEEP_BACK_BLOCKS); n < view.farmIndex; n++) blocks.add(n)
    }
    let changed = false
    let complete = true
    for (const index of [...blocks].sort((x, y) => x - y)) {
      if (this.stopped) return changed
      // Still being planted or worked: the running phase records its outcomes.
      if (this.busy.has(`plant:${index}`) || this.busy.has(`work:${index}`) || this.plantRuns.has(index)) {
        complete = false
        continue
      }
      const r = await this.sweepBlock(index)
      changed ||= r.changed
      if (r.open) complete = false
      else this.openBlocks.delete(index)
    }
    if (complete) this.sweptBack = true
    return changed
  }

  private async sweepBlock(index: number): Promise<{ changed: boolean; open: boolean }> {
    const isOpen = (o: ChainOpRecord): boolean => o.op !== 'harvest' && (o.status === 'pending' || o.status === 'failed')
    const ops = await this.o.store.opsOfBlock(index)
    if (!ops.some(isOpen)) return { changed: false, open: false }
    const plants = ops.filter((o) => o.op === 'plant' && (o.status === 'pending' || o.status === 'failed'))
    let open = false
    if (plants.length > 0) {
      const pails = await this.readPails(index, plants.map((o) => o.farmer))
      await Promise.all(plants.map(async (o) => {
        const res = o.txHash ? await this.checkHash(o.txHash) : undefined
        const pail = pails.get(o.farmer)?.pail
        if (pail || res?.status === 'success') {
          await this.record(o.farmer, index, 'plant', 'done', { txHash: o.txHash, feeStroops: res?.feeStroops ?? o.feeStroops, amountStroops: pail?.stake ?? o.amountStroops })
          return
        }
        if (o.status === 'pending' && o.txHash && !this.pendingExpired(o)) {
          open = true
          return
        }
        const reason = `no plant landed before block ${index} closed${o.reason ? ` (last attempt: ${o.reason})` : ''}`
        await this.record(o.farmer, index, 'plant', 'lost', { txHash: o.txHash, feeStroops: o.feeStroops, amountStroops: 0n, reason })
        this.o.log.warn({ index, farmer: o.farmer, reason }, 'plant lost')
      }))
    }
    // Works: of every pail now known, and every open work row.
    await this.closeWorksOf(index)
    const after = await this.o.store.opsOfBlock(index)
    return { changed: true, open: open || after.some(isOpen) }
  }

  private async harvestBlock(index: number, farmers: string[], view: ChainView): Promise<void> {
    const [ops, pails] = await Promise.all([this.o.store.opsOfBlock(index), this.readPails(index, farmers)])
    const opOf = (pk: string, op: ChainOp): ChainOpRecord | undefined => ops.find((o) => o.farmer === pk && o.op === op)
    let remaining = false
    let block: Promise<BlockData | undefined> | undefined
    const blockOnce = (): Promise<BlockData | undefined> => (block ??= this.readBlock(index))
    await Promise.all(farmers.map(async (pk) => {
      let work = opOf(pk, 'work')
      if (work?.status === 'pending' && work.txHash) {
        // A work sent before a crash: its hash says whether it applied.
        const res = await this.checkHash(work.txHash)
        if (res?.status === 'success') {
          work = { ...work, status: 'done', feeStroops: res.feeStroops, gap: res.returnValue ? Number(scValToNative(res.returnValue)) : null }
          await this.record(pk, index, 'work', 'done', { txHash: work.txHash, feeStroops: work.feeStroops, zeros: work.zeros, gap: work.gap })
        }
      }
      const p = pails.get(pk)
      const harvest = opOf(pk, 'harvest')
      let step = harvestStep({ index, farmIndex: view.farmIndex, latestLedger: view.ledger, harvest, pail: p?.pail, pailLiveUntil: p?.liveUntil })
      if (step.kind === 'check') {
        const res = await this.checkHash(step.txHash)
        if (res?.status === 'success') {
          await this.settle(pk, index, 'harvest', res, { amountStroops: res.returnValue ? BigInt(scValToNative(res.returnValue) as bigint) : 0n })
          this.o.metrics?.pailsTotal.inc({ stage: 'harvested' })
          return
        }
        if (!res && p && harvest!.status === 'pending' && !this.pendingExpired(harvest!)) {
          // Sent (maybe by a previous process) and not applied yet: it may still apply; ask again later.
          remaining = true
          return
        }
        step = harvestStep({ index, farmIndex: view.farmIndex, latestLedger: view.ledger, harvest: undefined, pail: p?.pail, pailLiveUntil: p?.liveUntil })
      }
      if (step.kind === 'skip' || step.kind === 'wait') return
      if (step.kind === 'gone') {
        if (!(await this.resolveGone(pk, index, opOf(pk, 'plant'), work, harvest, blockOnce))) remaining = true
        return
      }
      if (step.kind === 'lost') {
        await this.record(pk, index, 'harvest', 'lost', { reason: step.reason })
        this.o.metrics?.pailsTotal.inc({ stage: 'lost' })
        return
      }
      const source = this.sourceFor(pk)
      if (!source) return
      let sent: string | null = harvest?.txHash ?? null
      const res = await this.o.submitter.submit({
        source, op: 'harvest', invoke: harvestOp(this.o.net.contractId, pk, index),
        onSend: (hash) => { sent = hash; return this.record(pk, index, 'harvest', 'pending', { txHash: hash }) },
      })
      if (res.status === 'contract-error' && res.code === 9) {
        // Pail gone: an earlier attempt of ours (or anyone: harvest needs no auth) harvested it; find out, never assume 0.
        const rows = await this.o.store.opsOfBlock(index)
        const h = rows.find((o) => o.farmer === pk && o.op === 'harvest' && o.txHash)
          ?? (sent ? { farmer: pk, block: index, op: 'harvest' as const, status: 'pending' as const, txHash: sent, feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: Date.now() } : harvest)
        if (!(await this.resolveGone(pk, index, opOf(pk, 'plant'), work, h, blockOnce))) remaining = true
        return
      }
      const reward = res.status === 'success' && res.returnValue ? BigInt(scValToNative(res.returnValue) as bigint) : 0n
      const v = await this.settle(pk, index, 'harvest', res, { amountStroops: reward })
      if (v === 'done') this.o.metrics?.pailsTotal.inc({ stage: 'harvested' })
      if (v === 'retry') remaining = true
    }))
    if (remaining) this.lastHarvestLedger = 0
    if (this.stopped) return
    await this.emitHarvested(index)
  }

  private async readBlock(index: number): Promise<BlockData | undefined> {
    const key = blockKey(this.o.net.contractId, index)
    const { entries } = await readEntries(this.o.rpc, [key])
    const e = entries.get(keyId(key))
    return e ? decodeBlock(contractDataValue(e.val)) : undefined
  }

  /**
   * The pail of a finished block is gone. A harvest of ours whose hash says so
   * is recorded with the reward it returned; else, while Block(index) lives
   * (the pail outlives its block, so it did not expire) it was harvested — by an
   * attempt whose outcome we never learned, or by a third party — and the reward
   * is derived from Block(index) and the recorded gap, zeros and stake. Lost only
   * when neither can be established. Returns false when it must ask again later.
   */
  private async resolveGone(pk: string, index: number, plant: ChainOpRecord | undefined, work: ChainOpRecord | undefined, harvest: ChainOpRecord | undefined, block: () => Promise<BlockData | undefined>): Promise<boolean> {
    if (harvest?.txHash) {
      const res = await this.checkHash(harvest.txHash)
      if (res?.status === 'success') {
        await this.settle(pk, index, 'harvest', res, { amountStroops: res.returnValue ? BigInt(scValToNative(res.returnValue) as bigint) : 0n })
        this.o.metrics?.pailsTotal.inc({ stage: 'harvested' })
        return true
      }
      // Not (yet) known: a transaction still within its validity window may be the one that took the pail.
      if (!this.pendingExpired(harvest)) return false
    }
    let reason = 'pail gone before harvest and Block gone too (TTL expired): no harvest can be established'
    if (work?.status === 'done') {
      const b = await block()
      if (b) {
        const stake = plant?.status === 'done' ? plant.amountStroops : null
        const reward = derivedHarvestReward(index, b, { gap: work.gap, zeros: work.zeros, stake })
        if (reward !== null) {
          const why = `pail harvested by a transaction not confirmed to us (outcome unknown, or a third party); reward derived from Block(${index}) with gap ${work.gap}, zeros ${work.zeros}, stake ${stake}`
          await this.record(pk, index, 'harvest', 'done', { txHash: harvest?.txHash ?? null, feeStroops: harvest?.feeStroops ?? 0n, amountStroops: reward, reason: why })
          this.o.metrics?.pailsTotal.inc({ stage: 'harvested' })
          this.o.log.warn({ index, farmer: pk, rewardStroops: reward.toString() }, 'harvest derived from the block')
          return true
        }
        reason = `pail harvested outside our records; reward not derivable (gap ${work.gap}, zeros ${work.zeros}, stake ${stake} recorded)`
      }
    } else {
      reason = 'pail gone before harvest and no work recorded as landed'
    }
    await this.record(pk, index, 'harvest', 'lost', { txHash: harvest?.txHash ?? null, feeStroops: harvest?.feeStroops ?? 0n, reason })
    this.o.metrics?.pailsTotal.inc({ stage: 'lost' })
    this.o.log.warn({ index, farmer: pk, reason }, 'harvest lost')
    return true
  }

  /** A pending record older than a transaction's validity window can no longer apply. */
  private pendingExpired(op: ChainOpRecord): boolean {
    return Date.now() - op.updatedAt > PENDING_EXPIRY_LEDGERS * this.o.ledgerMs
  }

  /** One 'harvested' event per block, once none of its pails is left to harvest. */
  private async emitHarvested(index: number): Promise<void> {
    const ops = await this.o.store.opsOfBlock(index)
    const works = ops.filter((o) => o.op === 'work' && o.status === 'done')
    const harvests = new Map(ops.filter((o) => o.op === 'harvest').map((o) => [o.farmer, o]))
    if (works.some((w) => { const h = harvests.get(w.farmer); return !h || (h.status !== 'done' && h.status !== 'lost') })) return
    if (this.emittedHarvest.has(index)) return
    this.emittedHarvest.add(index)
    const plants = new Map(ops.filter((o) => o.op === 'plant').map((o) => [o.farmer, o]))
    const rewards = [...harvests.values()].filter((h) => h.status === 'done').map((h) => ({ farmer: h.farmer, rewardStroops: h.amountStroops, stakeStroops: plants.get(h.farmer)?.amountStroops ?? 0n }))
    const ev: HarvestedEvent = { index, rewards }
    this.emit('harvested', ev)
  }

  private readonly emittedHarvest = new Set<number>()
}
