// The plant phase of the block cycle: plant every active farmer of block N, and
// open the next block with one plant when the open one is ≥ 300 s old. Stakes
// come from one batched balance read; a farmer whose lane ended a transaction
// since (a payout spends its balance) reads its balance again when its plant's turn comes. A pail on
// chain or a recorded hash that applied counts as planted, so a restarted
// process sends no second plant (the contract would refuse it with #8 anyway).
import { xdr } from '@stellar/stellar-sdk'
import type { PlantedEvent } from '../events.js'
import { pailIndexInFootprint, plantOp } from './contract.js'
import { plantStep, stakeOf } from './cycle.js'
import { markBlock, type ActiveFarmer, type CycleState } from './cycle-state.js'
import { prepareFallback } from './work-phase.js'

/** Plants block `index`, known as in flight (a work phase works what it plants) until it ends. */
export function trackPlants(c: CycleState, index: number): Promise<void> {
  const run = plantAll(c, index)
  c.plantRuns.set(index, run)
  const clear = (): void => { if (c.plantRuns.get(index) === run) c.plantRuns.delete(index) }
  run.then(clear, clear)
  return run
}

async function plantAll(c: CycleState, index: number): Promise<void> {
  const farmers = [...c.farmers.values()]
  const pks = farmers.map((f) => f.signer.publicKey)
  // What each lane had ended before the balances were read: a plant whose lane ended
  // a transaction since (a payout from the farmer) re-reads its balance at its turn.
  const endedBefore = new Map(pks.map((pk) => [pk, c.o.submitter.ended(pk)]))
  const [ops, pails, bals] = await Promise.all([c.o.store.opsOfBlock(index), c.readPails(index, pks), c.balances(farmers)])
  const plantOps = new Map(ops.filter((o) => o.op === 'plant').map((o) => [o.farmer, o]))
  const planted = c.plantedSet(index)
  let retry = false
  await Promise.all(farmers.map(async (f) => {
    const pk = f.signer.publicKey
    const op = plantOps.get(pk)
    const pail = pails.get(pk)?.pail
    let step = plantStep(op, pail)
    if (step === 'done') {
      if (pail && op?.status !== 'done') {
        // Planted by a transaction we sent (the opener, or before a restart): its hash gives the fee.
        const res = op?.txHash ? await c.checkHash(op.txHash) : undefined
        await c.record(pk, index, 'plant', 'done', { txHash: op?.txHash ?? null, amountStroops: pail.stake, feeStroops: res?.feeStroops ?? op?.feeStroops ?? 0n })
      }
      planted.add(pk)
      return
    }
    if (step === 'pending') {
      const res = await c.checkHash(op!.txHash!)
      if (res?.status === 'success') {
        await c.record(pk, index, 'plant', 'done', { txHash: op!.txHash, feeStroops: res.feeStroops, amountStroops: op!.amountStroops })
        planted.add(pk)
        return
      }
      step = 'todo'
    }
    let stake = stakeOf(bals.get(pk) ?? 0n, f.stakePercent)
    // The block the pail goes to: plant() plants into the block current when it
    // applies, so a request held up past the rollover (a busy lane, TRY_AGAIN_LATER)
    // plants the next block. Its simulated footprint names the pail.
    let target = index
    const res = await c.o.submitter.submit({
      source: f.signer, op: 'plant',
      invokeLate: async () => plantOp(c.o.net.contractId, pk, (stake = await stakeAtTurn(c, f, endedBefore.get(pk), stake))),
      onSend: (hash, data) => {
        target = plantTarget(data, pk, index)
        return c.record(pk, target, 'plant', 'pending', { txHash: hash, amountStroops: stake })
      },
    })
    if (target !== index) {
      // Not a plant of `index` (its block is over): booked under the block it landed
      // in; any other outcome is that block's own plant phase's to settle (#8: it planted first).
      c.o.log.warn({ index, target, farmer: pk, status: res.status }, 'plant sent for a block that ended: it went to the next one')
      if (res.status === 'success') {
        await c.settle(pk, target, 'plant', res, { amountStroops: stake })
        c.plantedSet(target).add(pk)
      }
      return
    }
    // #8: an earlier plant of ours applied after all (sent before a restart): the pail holds its stake.
    const planted8 = res.status === 'contract-error' && res.code === 8 ? (await c.readPails(index, [pk])).get(pk)?.pail : undefined
    const v = await c.settle(pk, index, 'plant', res, { amountStroops: planted8?.stake ?? stake })
    if (v === 'done') planted.add(pk)
    if (v === 'retry') retry = true
  }))
  if (c.stopped) return
  if (!retry) markBlock(c.plantDone, index)
  c.o.log.debug({ index, planted: planted.size, ledger: c.o.clock.ledger }, 'plants applied')
  c.o.metrics?.pailsTotal.inc({ stage: 'planted' }, planted.size)
  const ev: PlantedEvent = { index, farmers: [...planted] }
  c.events.emit('planted', ev)
  prepareFallback(c, index, ev.farmers)
}

/**
 * A plant's stake when its turn on the farmer's lane comes: `stake` (from an
 * earlier read) unless a transaction of the farmer ended since `endedBefore` (a
 * payout spends the balance); then the balance is read again. Unread (RPC down):
 * `stake`, as before; a plant it no longer covers is retried next pass.
 */
async function stakeAtTurn(c: CycleState, f: ActiveFarmer, endedBefore: number | undefined, stake: bigint): Promise<bigint> {
  const pk = f.signer.publicKey
  if (c.o.submitter.ended(pk) === endedBefore) return stake
  const fresh = await c.balances([f]).catch(() => undefined)
  return fresh ? stakeOf(fresh.get(pk) ?? 0n, f.stakePercent) : stake
}

/** The block a plant of `pk` goes to: its simulated footprint's Pail key (`data`, SorobanTransactionData XDR), else `expected`. */
function plantTarget(data: Uint8Array | undefined, pk: string, expected: number): number {
  return (data && pailIndexInFootprint(xdr.SorobanTransactionData.fromXDR(data), pk)) ?? expected
}

/** One plant that opens block `index + 1` once the simulation sees the rollover. */
export async function openNext(c: CycleState, index: number): Promise<void> {
  // A farmer with an idle lane opens at once (the others may still be waiting on their work).
  const all = [...c.farmers.values()]
  const opener = all.find((f) => c.o.submitter.idle(f.signer.publicKey)) ?? all[0]
  if (!opener) return
  c.o.log.debug({ index, ledger: c.o.clock.ledger, idle: c.o.submitter.idle(opener.signer.publicKey) }, 'opening next block')
  const pk = opener.signer.publicKey
  // The opener's pail of the next block is its plant of that block: staked by its policy like the others.
  // Read once per block and opener: the attempts every ledger around the rollover need no extra
  // round trip. Read again when another transaction of the opener ended since (a payout spends
  // the balance): the cache remembers how many had ended after its own last attempt.
  const cached = c.openerStake
  const endedBefore = c.o.submitter.ended(pk)
  let stake = cached?.index === index && cached.pk === pk && cached.ended === endedBefore ? cached.stake : undefined
  stake ??= stakeOf((await c.balances([opener])).get(pk) ?? 0n, opener.stakePercent)
  let target = index + 1
  const res = await c.o.submitter.submit({
    source: opener.signer, op: 'plant',
    invokeLate: async () => plantOp(c.o.net.contractId, pk, (stake = await stakeAtTurn(c, opener, endedBefore, stake!))),
    onSend: (hash, data) => {
      target = plantTarget(data, pk, index + 1)
      // Already planted there (simulated before the rollover): this attempt can only get #8; a row would overwrite the done one.
      if (c.planted.get(target)?.has(pk)) return Promise.resolve()
      return c.record(pk, target, 'plant', 'pending', { txHash: hash, amountStroops: stake })
    },
  })
  c.openerStake = { index, pk, stake, ended: c.o.submitter.ended(pk) }
  c.o.log.debug({ index, target, status: res.status, code: res.status === 'contract-error' ? res.code : undefined, ledger: c.o.clock.ledger }, 'open attempt')
  // #8 here means the simulation still saw block `index`: not yet time; the next ledger tries again.
  // A row an earlier attempt left at another block is resolved by the close-out sweep.
  if (res.status === 'contract-error') return
  if (res.status === 'success' || !c.planted.get(target)?.has(pk)) await c.settle(pk, target, 'plant', res, { amountStroops: stake })
  if (res.status === 'success') c.plantedSet(target).add(pk)
}
