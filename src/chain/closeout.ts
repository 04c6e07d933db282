// Close-out of past blocks (ARCHITECTURE.md): after the rollover no row of a
// block is left pending or failed, so its rewards never wait forever. Each open
// row is resolved from its hash and the pail: done when the chain shows it,
// lost (with why) when it can no longer land.
import type { ChainOpRecord } from './store.js'
import { workGapOf } from './contract.js'
import type { ChainView } from './watcher.js'
import { markBlock, type CycleState } from './cycle-state.js'
import { BLOCK_INTERVAL_SECONDS, PAIL_TTL_LEDGERS } from '../kale/reward.js'
import { LEDGER_SECONDS_NOMINAL } from './cycle.js'

/**
 * A started process looks back over every block whose pails may still be alive:
 * a block lasts at least BLOCK_INTERVAL_SECONDS (60 ledgers), so at most
 * PAIL_TTL_LEDGERS / 60 = 288 blocks opened within a pail's TTL. Rows a crash
 * left failed, and pails whose rows were lost (written behind through a database
 * outage, then the process ended), are found there however long the outage or
 * the downtime was; past the TTL nothing can be harvested any more.
 */
export const LOOK_BACK_BLOCKS = Math.ceil(PAIL_TTL_LEDGERS / (BLOCK_INTERVAL_SECONDS / LEDGER_SECONDS_NOMINAL))
/** Look-back blocks checked per sweep, newest first (each reads its farmers' pails): spreads the start's reads over a few ledgers. */
const LOOK_BACK_BLOCKS_PER_SWEEP = 16

/**
 * After the rollover: every planted pail of block `index` whose work is not
 * known to have landed is settled — done when the chain shows the work, lost
 * (with why) when it can no longer land — so the books hold every pail.
 * Returns whether a work row is left open (a pending hash that may still apply).
 */
export async function closeWorksOf(c: CycleState, index: number): Promise<boolean> {
  await c.workRuns.get(index)?.catch(() => undefined)
  const ops = await c.o.store.opsOfBlock(index)
  const works = new Map(ops.filter((o) => o.op === 'work').map((o) => [o.farmer, o]))
  // Every done plant, and every work row left open whatever its plant's row says (a crash, an opener's stray row).
  const open = [...new Set([...ops.filter((o) => o.op === 'plant' && o.status === 'done').map((o) => o.farmer), ...works.keys()])]
    .filter((pk) => { const st = works.get(pk)?.status; return st !== 'done' && st !== 'lost' })
  let unresolved = false
  if (open.length > 0) {
    const pails = await c.readPails(index, open)
    await Promise.all(open.map(async (pk) => {
      const w = works.get(pk)
      const pail = pails.get(pk)?.pail
      if (pail && pail.zeros !== null) {
        await c.record(pk, index, 'work', 'done', { txHash: w?.txHash ?? null, feeStroops: w?.feeStroops ?? 0n, zeros: pail.zeros, gap: pail.gap })
        return
      }
      // Pending or failed: the hash says whether our work applied. An attempt recorded
      // failed may have applied ("outcome unknown"), its pail read unworked from a
      // lagging node or harvested since by a third party: the hash, not that read, decides.
      if (w?.txHash) {
        const res = await c.checkHash(w.txHash)
        if (res?.status === 'success') {
          const gap = workGapOf(res.returnValue)
          await c.record(pk, index, 'work', 'done', { txHash: w.txHash, feeStroops: res.feeStroops, zeros: w.zeros, gap })
          return
        }
        if (w.status === 'pending' && !c.pendingExpired(w)) {
          unresolved = true
          return
        }
      }
      const reason = `no work landed before the rollover${w?.reason ? ` (last attempt: ${w.reason})` : w ? '' : ' (none sent)'}`
      await c.record(pk, index, 'work', 'lost', { txHash: w?.txHash ?? null, feeStroops: w?.feeStroops ?? 0n, zeros: w?.zeros ?? null, reason })
      c.o.metrics?.pailsTotal.inc({ stage: 'lost' })
      c.o.log.warn({ index, farmer: pk, reason }, 'pail lost: work did not land')
    }))
  }
  if (unresolved || c.stopped) return unresolved
  markBlock(c.worksClosed, index, 2)
  return false
}

/**
 * Close-out of past blocks: every plant or work row still pending or failed
 * in a block that is over is resolved from its hash and the pail, so no block
 * waits for its rewards forever (a plant that failed when the plant window
 * closed, rows a crash left behind, an opener's attempt at the wrong block).
 * Returns whether it changed anything.
 */
export async function sweep(c: CycleState, view: ChainView, unsettled: readonly ChainOpRecord[]): Promise<boolean> {
  const blocks = new Set<number>([...c.openBlocks].filter((n) => n < view.farmIndex))
  for (const o of unsettled) if (o.block < view.farmIndex && o.op !== 'harvest' && (o.status === 'pending' || o.status === 'failed')) blocks.add(o.block)
  // Blocks a crash may have left without any row at all: the look-back, once
  // per process, from the block before the first one it sees down to
  // LOOK_BACK_BLOCKS before it, a few blocks per sweep.
  c.lookBackNext ??= view.farmIndex - 1
  c.lookBackEnd ??= Math.max(0, view.farmIndex - LOOK_BACK_BLOCKS)
  const lookBack = new Set<number>()
  for (let n = c.lookBackNext; n >= c.lookBackEnd && lookBack.size < LOOK_BACK_BLOCKS_PER_SWEEP; n--) lookBack.add(n)
  const busy = (index: number): boolean => c.plantRuns.has(index) || c.busy.has(`work:${index}`) || c.busy.has(`close:${index}`)
  let changed = false
  for (const index of [...new Set([...blocks, ...lookBack])].sort((x, y) => y - x)) {
    if (c.stopped) return changed
    // Still being planted, worked or closed: the running phase records its outcomes.
    if (busy(index)) continue
    if (lookBack.has(index)) await adoptUnrecordedPails(c, index)
    const r = await sweepBlock(c, index)
    changed ||= r.changed
    if (!r.open) c.openBlocks.delete(index)
    // The cursor passes a block once its pails are adopted; a block whose rows
    // stay open is in openBlocks from here on (record()), swept until settled.
    if (lookBack.has(index) && index === c.lookBackNext) c.lookBackNext = index - 1
  }
  return changed
}

/**
 * Pails of a past block `index` that the books hold no row for: rows written
 * behind while the database was away, lost with a process that ended before it
 * came back. The pail on chain is the record: each becomes a done plant of its
 * stake, and closeWorksOf then settles its work from the pail, so the harvest
 * phase harvests it and the block's rewards are credited. Without this such a
 * pail waits unharvested until its TTL, stake and reward never minted. Reads only
 * the farmers (active and disabled) without a row in the block.
 */
async function adoptUnrecordedPails(c: CycleState, index: number): Promise<void> {
  const known = new Set((await c.o.store.opsOfBlock(index)).map((o) => o.farmer))
  // Every farmer the store holds: a disabled one's pails are harvested too.
  const unknown = (await c.o.store.listFarmers()).map((f) => f.publicKey).filter((pk) => !known.has(pk))
  if (unknown.length === 0) return
  const pails = await c.readPails(index, unknown)
  let adopted = 0
  for (const pk of unknown) {
    const pail = pails.get(pk)?.pail
    if (!pail || c.stopped) continue
    await c.record(pk, index, 'plant', 'done', { amountStroops: pail.stake, reason: 'no row was written for this plant (lost in a restart): recovered from its pail' })
    adopted++
  }
  if (adopted > 0) c.o.log.warn({ index, pails: adopted }, 'pails without a row recovered from the chain')
}

/**
 * Resolves the open rows of block `index`, and closes the works of its done plants
 * that have no settled work row (a crash between the plants and the works, with
 * the restart blocks later: the rollover's close-out never ran for it).
 */
async function sweepBlock(c: CycleState, index: number): Promise<{ changed: boolean; open: boolean }> {
  const isOpen = (o: ChainOpRecord): boolean => o.op !== 'harvest' && (o.status === 'pending' || o.status === 'failed')
  const ops = await c.o.store.opsOfBlock(index)
  const workSettled = new Set(ops.filter((o) => o.op === 'work' && (o.status === 'done' || o.status === 'lost')).map((o) => o.farmer))
  const unclosed = ops.some((o) => o.op === 'plant' && o.status === 'done' && !workSettled.has(o.farmer))
  if (!unclosed && !ops.some(isOpen)) return { changed: false, open: false }
  const plants = ops.filter((o) => o.op === 'plant' && (o.status === 'pending' || o.status === 'failed'))
  let open = false
  if (plants.length > 0) {
    const pails = await c.readPails(index, plants.map((o) => o.farmer))
    await Promise.all(plants.map(async (o) => {
      const res = o.txHash ? await c.checkHash(o.txHash) : undefined
      const pail = pails.get(o.farmer)?.pail
      if (pail || res?.status === 'success') {
        await c.record(o.farmer, index, 'plant', 'done', { txHash: o.txHash, feeStroops: res?.feeStroops ?? o.feeStroops, amountStroops: pail?.stake ?? o.amountStroops })
        return
      }
      if (o.status === 'pending' && o.txHash && !c.pendingExpired(o)) {
        open = true
        return
      }
      const reason = `no plant landed before block ${index} closed${o.reason ? ` (last attempt: ${o.reason})` : ''}`
      await c.record(o.farmer, index, 'plant', 'lost', { txHash: o.txHash, feeStroops: o.feeStroops, amountStroops: 0n, reason })
      c.o.log.warn({ index, farmer: o.farmer, reason }, 'plant lost')
    }))
  }
  // Works: of every pail now known, and every open work row.
  const worksOpen = await closeWorksOf(c, index)
  return { changed: true, open: open || worksOpen }
}
