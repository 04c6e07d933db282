// The block cycle (ARCHITECTURE.md): plant every active farmer when block N
// appears, open the next block with one plant when the open one is ≥ 300 s old,
// work every planted farmer WORK_LEAD_SECONDS before the earliest rollover,
// harvest every worked pail once FarmIndex > N, and close out every past block
// (no row of it left pending or failed, so its rewards never wait forever;
// a pail gone before our harvest is checked, never assumed worth 0). Work and
// harvest need no auth: a disabled farmer's pails go on. The chain and the store decide
// what is done, so a restarted scheduler skips what is done and resumes what is
// pending; the contract itself refuses a second plant (8) or harvest (9).
//
// This file decides when each phase runs; the phases live in plant-phase.ts,
// work-phase.ts, closeout.ts and harvest-phase.ts, the state and the reads and
// records they share in cycle-state.ts.
import { EventEmitter } from 'node:events'
import type { BlockEvent } from '../events.js'
import { isWorkDue, mayOpenNext, rolloverAt } from './cycle.js'
import { BlockWatcher, type ChainView } from './watcher.js'
import { CycleState, WATCH_POLLS_PER_LEDGER, type ActiveFarmer, type SchedulerOptions } from './cycle-state.js'
import { openNext, trackPlants } from './plant-phase.js'
import { WorkLead, workAll } from './work-phase.js'
import { closeWorksOf } from './closeout.js'
import { harvestDue } from './harvest-phase.js'

export type { ActiveFarmer, HarvestedEvent, SchedulerOptions } from './cycle-state.js'

const HARVEST_RETRY_LEDGERS = 5
/** Stellar closes a ledger at most every 5 s of ledger time */
const LEDGER_SECONDS_MIN = 5
/**
 * Ledger seconds past the earliest rollover the opener waits for our own works of
 * the block to settle: a work and one retry (a fault, a re-simulation) fit; others
 * open at 300–315 s anyway, and if nobody does the pool still opens.
 */
const OPEN_WAIT_FOR_WORKS_SECONDS_MAX = 30

/** Events: 'block' (BlockEvent), 'planted' (PlantedEvent), 'harvested' (HarvestedEvent). */
export class Scheduler extends EventEmitter {
  readonly watcher: BlockWatcher
  private readonly s: CycleState
  private draining = false
  private readonly lead: WorkLead
  private closeTriedLedger = 0
  private harvestBacklog = true
  private readonly inflight = new Set<Promise<unknown>>()

  constructor(private readonly o: SchedulerOptions) {
    super()
    this.s = new CycleState(o, this)
    this.lead = new WorkLead(o)
    this.watcher = new BlockWatcher({
      rpc: o.rpc, net: o.net, clock: o.clock, log: o.log, metrics: o.metrics,
      pollMs: o.ledgerMs / WATCH_POLLS_PER_LEDGER,
      onBlock: (ev, view) => this.onBlock(ev, view),
      onView: (view) => this.onView(view),
    })
  }

  setFarmers(list: readonly ActiveFarmer[]): void {
    for (const [pk, f] of this.s.farmers) this.s.retired.set(pk, f.signer)
    this.s.farmers = new Map(list.map((f) => [f.signer.publicKey, f]))
    for (const pk of this.s.farmers.keys()) this.s.retired.delete(pk)
    this.o.metrics?.farmersActive.set(this.s.farmers.size)
  }

  start(): void {
    this.s.stopped = false
    this.draining = false
    this.lead.enable()
    this.o.submitter.resume()
    this.watcher.start()
  }

  /** Stops deciding and recording at once (as a killed process would); in-flight transactions are abandoned. */
  stop(): void {
    this.s.stopped = true
    this.lead.disable()
    this.o.submitter.halt()
    this.watcher.stop()
  }

  /** Graceful stop: no new phases, the running ones finish and record their outcomes. */
  async shutdown(): Promise<void> {
    this.drain()
    await this.idle()
    this.lead.disable()
  }

  /** The first half of shutdown(): no new phases and no new blocks from here on; idle() tells when the running ones are done. */
  drain(): void {
    this.draining = true
    this.watcher.stop()
  }

  /** Waits for the running phases (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
  }

  private phase(name: string, fn: () => Promise<void>): void {
    if (this.s.stopped || this.draining || this.s.busy.has(name)) return
    this.s.busy.add(name)
    const p = fn()
      .catch((err: unknown) => this.o.log.warn({ phase: name, code: (err as { code?: string }).code, reason: (err as Error).message }, 'chain phase failed; retried next ledger'))
      .finally(() => {
        this.s.busy.delete(name)
        this.inflight.delete(p)
      })
    this.inflight.add(p)
  }

  private onBlock(ev: BlockEvent, view: ChainView): void {
    // A poll already under way when the stop began: the next start sees this block.
    if (this.s.stopped || this.draining) return
    this.s.current = ev
    this.lead.reset()
    this.emit('block', ev)
    this.o.log.info({ index: ev.index, ledger: ev.ledger }, 'new block')
    this.phase(`plant:${ev.index}`, () => (this.s.plantRun = trackPlants(this.s, ev.index)))
    this.closeWorks(ev.index - 1)
    this.harvestBacklog = true
    this.maybeHarvest(view)
  }

  private onView(view: ChainView): void {
    const s = this.s
    const cur = s.current
    if (s.stopped) return
    if (!cur) {
      // Genesis (no Block yet) or an evicted block: the pool's plant creates it.
      if (!view.block && !view.paused) this.phase('open:none', () => openNext(s, view.farmIndex - 1))
      return
    }
    if (view.farmIndex === cur.index) {
      const workDue = isWorkDue(cur.timestamp, view.closeTime, this.lead.seconds())
      if (!s.plantDone.has(cur.index) && !workDue) {
        this.phase(`plant:${cur.index}`, () => trackPlants(s, cur.index))
      }
      if (!s.workDone.has(cur.index) && workDue) {
        this.phase(`work:${cur.index}`, () => {
          const run = workAll(s, cur, this.lead)
          s.workRuns.set(cur.index, run)
          for (const k of s.workRuns.keys()) if (k < cur.index - 2) s.workRuns.delete(k)
          return run
        })
      }
      // Simulation runs at the next ledger's time (+5 s), so ask one ledger early; a #8 means "not yet" and retries.
      // Not while our own works of the block are unsettled: a work still retrying lands after
      // our opening plant and fails #9/#13, losing its pail's reward. Bounded: past
      // OPEN_WAIT_FOR_WORKS_SECONDS_MAX after the earliest rollover the pool opens anyway.
      const worksUnsettled = s.busy.has(`work:${cur.index}`) || (workDue && !s.workDone.has(cur.index))
      const waitedEnough = view.closeTime >= rolloverAt(cur.timestamp) + OPEN_WAIT_FOR_WORKS_SECONDS_MAX
      if (mayOpenNext(cur.timestamp, view.closeTime + LEDGER_SECONDS_MIN) && (!worksUnsettled || waitedEnough)) this.phase(`open:${cur.index}`, () => openNext(s, cur.index))
    }
    if (view.farmIndex > 0 && view.ledger !== this.closeTriedLedger) {
      this.closeTriedLedger = view.ledger
      this.closeWorks(view.farmIndex - 1)
    }
    this.maybeHarvest(view)
  }

  private closeWorks(index: number): void {
    if (index < 0 || this.s.worksClosed.has(index)) return
    this.phase(`close:${index}`, async () => void (await closeWorksOf(this.s, index)))
  }

  private maybeHarvest(view: ChainView): void {
    if (!this.harvestBacklog && view.ledger - this.s.lastHarvestLedger < HARVEST_RETRY_LEDGERS) return
    this.s.lastHarvestLedger = view.ledger
    this.harvestBacklog = false
    this.phase('harvest', () => harvestDue(this.s, view))
  }
}
