// The work phase of the block cycle: work every planted farmer WORK_LEAD_SECONDS
// before the earliest rollover, with the best hash the miners found (checked
// here) or, failing that, the pool's own fallback hash; and the lead itself,
// widened by what recent RPC faults and event-loop stalls cost.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { BestWork, BlockEvent } from '../events.js'
import type { ChainOpRecord } from './store.js'
import { workGapOf, workOp, type PailData } from './contract.js'
import { betterWork, workLeadFor, workStep } from './cycle.js'
import { selfWork, verifyWork } from './selfwork.js'
import { WATCH_POLLS_PER_LEDGER, markBlock, type CycleState, type SchedulerOptions, type Verdict } from './cycle-state.js'

const SELF_HASH_NONCES = 256
/** RPC faults this many blocks back (nominal 60 ledgers each) still widen the work's lead */
const FAULT_MEMORY_LEDGERS = 120
/** Event-loop stalls up to this long are normal jitter, not a reason to work earlier. */
const LOOP_LAG_TOLERATED_MS = 50
/** Sampling resolution of the event-loop delay monitor. */
const LOOP_LAG_RESOLUTION_MS = 10

export class WorkLead {
  /** event-loop delay since the current block opened (reset on each new block) */
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_LAG_RESOLUTION_MS })

  constructor(private readonly o: SchedulerOptions) {}

  enable(): void { this.loopDelay.enable() }
  disable(): void { this.loopDelay.disable() }
  /** A new block opened: its lead counts its own stalls only. */
  reset(): void { this.loopDelay.reset() }

  /**
   * The configured lead, widened by what one recent RPC fault cost and by how
   * long this process's event loop stalled during the block (see workLeadFor):
   * a loaded pool must start its works earlier for them to land in time (CI lost
   * works to #9/#13 when the loop stalled for ledgers at a time).
   */
  seconds(): number {
    const lagMs = Math.max(0, this.loopDelay.max / 1e6 - LOOP_LAG_TOLERATED_MS)
    return workLeadFor(this.o.workLeadSeconds, this.o.rpc.recentFaultCostMs(FAULT_MEMORY_LEDGERS * this.o.ledgerMs) + lagMs, this.o.ledgerMs)
  }
}

export async function workAll(c: CycleState, block: BlockEvent, lead: WorkLead): Promise<void> {
  const index = block.index
  c.o.log.debug({ index, ledger: c.o.clock.ledger, closeTime: c.o.clock.closeTime, rolloverAt: block.timestamp + 300, leadSeconds: lead.seconds() }, 'works due')
  const ops = await c.o.store.opsOfBlock(index)
  const workOps = new Map(ops.filter((o) => o.op === 'work').map((o) => [o.farmer, o]))
  const handled = new Set<string>()
  let retry = false
  const batch = async (pks: string[]): Promise<void> => {
    for (const pk of pks) handled.add(pk)
    const pails = await c.readPails(index, pks)
    await Promise.all(pks.map(async (pk) => {
      if ((await workOne(c, block, pk, workOps.get(pk), pails.get(pk)?.pail)) === 'retry') retry = true
    }))
  }
  // Every pail, the disabled farmers' too: work needs no auth.
  await batch([...new Set([...c.plantedSet(index), ...ops.filter((o) => o.op === 'plant' && o.status === 'done').map((o) => o.farmer)])])
  // Plants still in flight when the works fell due are worked as they land, while the block lasts.
  while (!c.stopped && (c.current?.index ?? index) === index) {
    const fresh = [...c.plantedSet(index)].filter((pk) => !handled.has(pk))
    if (fresh.length > 0) {
      await batch(fresh)
      continue
    }
    const running = c.plantRuns.get(index)
    if (!running) break
    await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, c.o.ledgerMs / WATCH_POLLS_PER_LEDGER))])
  }
  if (!retry && !c.stopped) markBlock(c.workDone, index)
}

/** ZeroCountTooLow: the pail already holds a work with at least as many zeros. */
const WORK_AT_LEAST_AS_GOOD = 7

async function workOne(c: CycleState, block: BlockEvent, pk: string, op: ChainOpRecord | undefined, pail: PailData | undefined): Promise<Verdict | 'none'> {
  const index = block.index
  const step = workStep(op, pail)
  if (step === 'none') return 'none'
  if (step === 'done') {
    if (op?.status !== 'done' && pail) await c.record(pk, index, 'work', 'done', { txHash: op?.txHash ?? null, zeros: pail.zeros, gap: pail.gap })
    return 'done'
  }
  if (step === 'pending') {
    const res = await c.checkHash(op!.txHash!)
    if (res?.status === 'success') {
      const gap = workGapOf(res.returnValue)
      await c.settle(pk, index, 'work', res, { zeros: op!.zeros, gap })
      if (!c.stopped) c.o.onWorked?.(index, pk)
      return 'done'
    }
  }
  const source = c.sourceFor(pk)
  if (!source) return 'retry'
  const best = bestFor(c, block, pk)
  // The farmer's jobs go stale the moment its best hash is taken, not when
  // the work lands: a share accepted in between could beat the hash sent
  // (found by the e2e test: work with 5 zeros, a 6-zero share credited).
  if (!c.stopped) c.o.onWorked?.(index, pk)
  const res = await c.o.submitter.submit({
    source, op: 'work', invoke: workOp(c.o.net.contractId, pk, best.hash, best.nonce),
    onSend: (hash) => c.record(pk, index, 'work', 'pending', { txHash: hash, zeros: best.zeros }),
  })
  if (res.status === 'contract-error' && res.code === WORK_AT_LEAST_AS_GOOD) {
    // An earlier work of ours is in (sent before a restart, or its answer missed):
    // the pail says which zeros and gap it booked; the harvest's reward is derived
    // from them if a third party harvests first. Unread: left failed, and the next
    // pass or the close-out reads the pail.
    const pail = (await c.readPails(index, [pk]).catch(() => undefined))?.get(pk)?.pail
    if (!pail || pail.zeros === null) {
      await c.record(pk, index, 'work', 'failed', { txHash: op?.txHash ?? null, zeros: best.zeros, reason: `contract error #${res.code}; pail not read yet` })
      return 'retry'
    }
    await c.record(pk, index, 'work', 'done', { txHash: op?.txHash ?? null, zeros: pail.zeros, gap: pail.gap, reason: `contract error #${res.code}: the pail holds an earlier work` })
    if (!c.stopped) c.o.metrics?.pailsTotal.inc({ stage: 'worked' })
    return 'done'
  }
  const gap = res.status === 'success' ? workGapOf(res.returnValue) : null
  const v = await c.settle(pk, index, 'work', res, { zeros: best.zeros, gap })
  c.o.log.debug({ index, farmer: pk, status: res.status, landed: res.status === 'success' ? res.ledger : undefined, ledger: c.o.clock.ledger, verdict: v }, 'work outcome')
  if (v === 'done' && !c.stopped) c.o.metrics?.pailsTotal.inc({ stage: 'worked' })
  return v
}

function bestFor(c: CycleState, block: BlockEvent, pk: string): BestWork {
  const fromMiners = c.o.bestWork.best(block.index, pk)
  const trusted = fromMiners && verifyWork(block.index, block.entropy, pk, fromMiners) ? fromMiners : undefined
  let own = c.fallback.get(`${block.index}/${pk}`)
  if (!own) {
    own = selfWork(block.index, block.entropy, pk, c.o.selfHashNonces ?? SELF_HASH_NONCES)
    c.fallback.set(`${block.index}/${pk}`, own)
  }
  return betterWork(trusted, own)!
}

/** Hashes a little per planted farmer in the background, so no pail goes unworked. */
export function prepareFallback(c: CycleState, index: number, farmers: readonly string[]): void {
  const cur = c.current
  if (!cur || cur.index !== index) return
  const nonces = c.o.selfHashNonces ?? SELF_HASH_NONCES
  const todo = farmers.filter((f) => !c.fallback.has(`${index}/${f}`))
  const step = (i: number): void => {
    if (c.stopped || i >= todo.length) return
    const f = todo[i]!
    c.fallback.set(`${index}/${f}`, selfWork(index, cur.entropy, f, nonces))
    setImmediate(() => step(i + 1))
  }
  for (const k of c.fallback.keys()) if (Number(k.split('/')[0]) < index) c.fallback.delete(k)
  step(0)
}
