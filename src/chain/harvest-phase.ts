// The harvest phase of the block cycle: harvest every worked pail once
// FarmIndex > N, after the close-out sweep has settled what past blocks left
// open. A pail gone before our harvest is checked, never assumed worth 0.
// Harvest needs no auth: a disabled farmer's pails go on.
import type { xdr } from '@stellar/stellar-sdk'
import type { ChainOp, ChainOpRecord } from './store.js'
import { harvestOp, harvestRewardOf, workGapOf, type BlockData } from './contract.js'
import { derivedHarvestReward, harvestStep } from './cycle.js'
import type { ChainView } from './watcher.js'
import { markBlock, type CycleState, type HarvestedEvent } from './cycle-state.js'
import { sweep } from './closeout.js'

/** Blocks remembered as announced (harvests of older blocks are over; nothing emits them again). */
const EMITTED_BLOCKS_KEPT = 8

export async function harvestDue(c: CycleState, view: ChainView): Promise<void> {
  // Plants are time-critical, harvests are not: let the block's plants take the lanes first.
  await c.plantRun?.catch(() => undefined)
  let unsettled = await c.o.store.unsettledOps()
  // A failing sweep (an old block's rows unreadable) must not hold up the harvests.
  const swept = await sweep(c, view, unsettled).catch((err: unknown) => {
    c.o.log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'close-out sweep failed; retried with the next harvests')
    return false
  })
  if (swept) unsettled = await c.o.store.unsettledOps()
  const byBlock = new Map<number, Set<string>>()
  for (const op of unsettled) {
    if (op.block >= view.farmIndex) continue
    // A failed work is the sweep's to resolve; its pail is harvested once that says it was worked.
    if ((op.op === 'work' && op.status !== 'failed') || op.op === 'harvest') {
      let s = byBlock.get(op.block)
      if (!s) byBlock.set(op.block, (s = new Set()))
      s.add(op.farmer)
    }
  }
  for (const [index, set] of byBlock) {
    if (c.stopped) return
    await harvestBlock(c, index, [...set], view)
  }
}

async function harvestBlock(c: CycleState, index: number, farmers: string[], view: ChainView): Promise<void> {
  const [ops, pails] = await Promise.all([c.o.store.opsOfBlock(index), c.readPails(index, farmers)])
  const opOf = (pk: string, op: ChainOp): ChainOpRecord | undefined => ops.find((o) => o.farmer === pk && o.op === op)
  let remaining = false
  let block: Promise<BlockData | undefined> | undefined
  const blockOnce = (): Promise<BlockData | undefined> => (block ??= c.readBlock(index))
  await Promise.all(farmers.map(async (pk) => {
    let work = opOf(pk, 'work')
    if (work?.status === 'pending' && work.txHash) {
      // A work sent before a crash: its hash says whether it applied.
      const res = await c.checkHash(work.txHash)
      if (res?.status === 'success') {
        work = { ...work, status: 'done', feeStroops: res.feeStroops, gap: workGapOf(res.returnValue) }
        await c.record(pk, index, 'work', 'done', { txHash: work.txHash, feeStroops: work.feeStroops, zeros: work.zeros, gap: work.gap })
      }
    }
    const p = pails.get(pk)
    const harvest = opOf(pk, 'harvest')
    let step = harvestStep({ index, farmIndex: view.farmIndex, harvest, pail: p?.pail, workLanded: work?.status === 'done', workPending: work?.status === 'pending' })
    if (step.kind === 'check') {
      if (await settleIfApplied(c, pk, index, step.txHash, opOf(pk, 'plant'), work, blockOnce)) return
      if (p && harvest!.status === 'pending' && !c.pendingExpired(harvest!)) {
        // Sent (maybe by a previous process) and not applied yet: it may still apply; ask again later.
        remaining = true
        return
      }
      step = harvestStep({ index, farmIndex: view.farmIndex, harvest: undefined, pail: p?.pail, workLanded: work?.status === 'done', workPending: work?.status === 'pending' })
    }
    if (step.kind === 'skip' || step.kind === 'wait') return
    // 'gone' from one read is not proof (a lagging node leaves entries out): booked from
    // it, a real pail expired unharvested and the miners were credited KALE never minted.
    // The harvest below goes out; its #9 (the pail really is gone) leads to resolveGone.
    if (step.kind === 'gone' && harvest?.txHash && !c.pendingExpired(harvest)) {
      // Our harvest (its hash just checked: not applied yet) may still take it within its validity window.
      remaining = true
      return
    }
    if (step.kind === 'lost') {
      await c.record(pk, index, 'harvest', 'lost', { reason: step.reason })
      c.o.metrics?.pailsTotal.inc({ stage: 'lost' })
      return
    }
    const source = c.sourceFor(pk)
    if (!source) return
    let sent: string | null = harvest?.txHash ?? null
    const res = await c.o.submitter.submit({
      source, op: 'harvest', invoke: harvestOp(c.o.net.contractId, pk, index),
      onSend: (hash) => { sent = hash; return c.record(pk, index, 'harvest', 'pending', { txHash: hash }) },
    })
    if (res.status === 'contract-error' && res.code === 9) {
      // Pail gone: an earlier attempt of ours (or anyone: harvest needs no auth) harvested it; find out, never assume 0.
      const rows = await c.o.store.opsOfBlock(index)
      const h = rows.find((o) => o.farmer === pk && o.op === 'harvest' && o.txHash)
        ?? (sent ? { farmer: pk, block: index, op: 'harvest' as const, status: 'pending' as const, txHash: sent, feeStroops: 0n, amountStroops: 0n, zeros: null, gap: null, reason: null, updatedAt: Date.now() } : harvest)
      if (!(await resolveGone(c, pk, index, opOf(pk, 'plant'), work, h, blockOnce))) remaining = true
      return
    }
    const reward = res.status === 'success' ? await rewardOf(c, pk, index, res.returnValue, opOf(pk, 'plant'), work, blockOnce) : 0n
    const v = await c.settle(pk, index, 'harvest', res, { amountStroops: reward })
    if (v === 'done') c.o.metrics?.pailsTotal.inc({ stage: 'harvested' })
    if (v === 'retry') remaining = true
  }))
  if (remaining) c.lastHarvestLedger = 0
  if (c.stopped) return
  await emitHarvested(c, index)
}

/** The stake a done plant row recorded; null when unknown. */
const recordedStake = (plant: ChainOpRecord | undefined): bigint | null => (plant?.status === 'done' ? plant.amountStroops : null)

/** A harvest's reward from Block(index) and the recorded work and stake (null when not derivable). */
function rewardFromBlock(index: number, b: BlockData, plant: ChainOpRecord | undefined, work: ChainOpRecord): bigint | null {
  return derivedHarvestReward(index, b, { gap: work.gap, zeros: work.zeros, stake: recordedStake(plant) })
}

/**
 * What an applied harvest minted: its return value; when the answer carried none
 * (a node that leaves out the result meta), derived from Block(index) and the
 * recorded gap, zeros and stake, as for a pail harvested outside our records.
 * Recorded as 0 only when neither is known (the miners' credit would be short,
 * never over): before, a missing return value always meant 0.
 */
async function rewardOf(c: CycleState, pk: string, index: number, returnValue: xdr.ScVal | undefined, plant: ChainOpRecord | undefined, work: ChainOpRecord | undefined, block: () => Promise<BlockData | undefined>): Promise<bigint> {
  if (returnValue) return harvestRewardOf(returnValue)
  const b = work?.status === 'done' ? await block() : undefined
  const reward = b ? rewardFromBlock(index, b, plant, work!) : null
  c.o.log.warn({ index, farmer: pk, rewardStroops: reward?.toString() ?? null }, reward === null ? 'harvest applied without a return value and its reward is not derivable: recorded as 0' : 'harvest applied without a return value: reward derived from the block')
  return reward ?? 0n
}

/** Records the harvest `hash` applied with the reward it returned; false when it is not known to have applied. */
async function settleIfApplied(c: CycleState, pk: string, index: number, hash: string, plant: ChainOpRecord | undefined, work: ChainOpRecord | undefined, block: () => Promise<BlockData | undefined>): Promise<boolean> {
  const res = await c.checkHash(hash)
  if (res?.status !== 'success') return false
  await c.settle(pk, index, 'harvest', res, { amountStroops: await rewardOf(c, pk, index, res.returnValue, plant, work, block) })
  c.o.metrics?.pailsTotal.inc({ stage: 'harvested' })
  return true
}

/**
 * The pail of a finished block is gone (a harvest's simulation answered #9). A harvest of ours whose hash says so
 * is recorded with the reward it returned; else, while Block(index) lives
 * (the pail outlives its block, so it did not expire) it was harvested — by an
 * attempt whose outcome we never learned, or by a third party — and the reward
 * is derived from Block(index) and the recorded gap, zeros and stake. Lost only
 * when neither can be established. Returns false when it must ask again later.
 */
async function resolveGone(c: CycleState, pk: string, index: number, plant: ChainOpRecord | undefined, work: ChainOpRecord | undefined, harvest: ChainOpRecord | undefined, block: () => Promise<BlockData | undefined>): Promise<boolean> {
  if (harvest?.txHash) {
    if (await settleIfApplied(c, pk, index, harvest.txHash, plant, work, block)) return true
    // Not (yet) known: a transaction still within its validity window may be the one that took the pail.
    if (!c.pendingExpired(harvest)) return false
  }
  let reason = 'pail gone before harvest and Block gone too (TTL expired): no harvest can be established'
  if (work?.status === 'done') {
    const b = await block()
    if (b) {
      const stake = recordedStake(plant)
      const reward = rewardFromBlock(index, b, plant, work)
      if (reward !== null) {
        const why = `pail harvested by a transaction not confirmed to us (outcome unknown, or a third party); reward derived from Block(${index}) with gap ${work.gap}, zeros ${work.zeros}, stake ${stake}`
        await c.record(pk, index, 'harvest', 'done', { txHash: harvest?.txHash ?? null, feeStroops: harvest?.feeStroops ?? 0n, amountStroops: reward, reason: why })
        c.o.metrics?.pailsTotal.inc({ stage: 'harvested' })
        c.o.log.warn({ index, farmer: pk, rewardStroops: reward.toString() }, 'harvest derived from the block')
        return true
      }
      reason = `pail harvested outside our records; reward not derivable (gap ${work.gap}, zeros ${work.zeros}, stake ${stake} recorded)`
    }
  } else {
    reason = 'pail gone before harvest and no work recorded as landed'
  }
  await c.record(pk, index, 'harvest', 'lost', { txHash: harvest?.txHash ?? null, feeStroops: harvest?.feeStroops ?? 0n, reason })
  c.o.metrics?.pailsTotal.inc({ stage: 'lost' })
  c.o.log.warn({ index, farmer: pk, reason }, 'harvest lost')
  return true
}

/** One 'harvested' event per block, once none of its pails is left to harvest. */
async function emitHarvested(c: CycleState, index: number): Promise<void> {
  if (c.emittedHarvest.has(index)) return
  const ops = await c.o.store.opsOfBlock(index)
  const works = ops.filter((o) => o.op === 'work' && o.status === 'done')
  const harvests = new Map(ops.filter((o) => o.op === 'harvest').map((o) => [o.farmer, o]))
  if (works.some((w) => { const h = harvests.get(w.farmer); return !h || (h.status !== 'done' && h.status !== 'lost') })) return
  markBlock(c.emittedHarvest, index, EMITTED_BLOCKS_KEPT)
  const plants = new Map(ops.filter((o) => o.op === 'plant').map((o) => [o.farmer, o]))
  const rewards = [...harvests.values()].filter((h) => h.status === 'done').map((h) => ({ farmer: h.farmer, rewardStroops: h.amountStroops, stakeStroops: plants.get(h.farmer)?.amountStroops ?? 0n }))
  const ev: HarvestedEvent = { index, rewards }
  c.events.emit('harvested', ev)
}
