// The block watcher: learns each new ledger (getLatestLedger is cheap), then
// reads the farm with ONE batched getLedgerEntries — instance storage plus
// Block(k) and Block(k+1) for the last known index k, so a rollover is seen in
// the same request. A block is emitted only when its Block entry is present and
// consistent with the instance; any RPC fault just means "try next ledger".
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { BlockEvent } from '../events.js'
import { blockKey, contractDataValue, decodeBlock, decodeInstance, instanceKey, keyId, type BlockData, type InstanceState } from './contract.js'
import type { LedgerClock } from './clock.js'
import type { NetworkInfo } from './network.js'
import { latestLedger as readLatestLedger, readEntries, type RpcClient } from './rpc.js'

/** What the scheduler decides from, refreshed once per ledger. */
export interface ChainView {
  ledger: number
  /** ledger close time, unix seconds (ledger time) */
  closeTime: number
  farmIndex: number
  paused: boolean
  /** Block(farmIndex), when present and consistent */
  block: BlockData | undefined
}

export interface WatcherOptions {
  rpc: RpcClient
  net: NetworkInfo
  clock: LedgerClock
  log: Logger
  metrics?: Metrics | undefined
  /** how often to ask for a new ledger; a fraction of the ledger time */
  pollMs: number
  onBlock(event: BlockEvent, view: ChainView): void
  onView?(view: ChainView): void
}

const POLL_MS_MIN = 10
const WARN_EVERY_FAILURES = 20

/**
 * Block(F) is usable: 32-byte entropy, not from the future, not older than the last one.
 * (FarmBlock is not compared: after a genesis or evicted open the contract keeps the old one.)
 */
export function isConsistent(block: BlockData, inst: InstanceState, closeTime: number, lastTimestamp: number | undefined): boolean {
  if (block.entropy.length !== 32) return false
  if (closeTime > 0 && block.timestamp > closeTime) return false
  if (lastTimestamp !== undefined && block.timestamp < lastTimestamp) return false
  return true
}

export class BlockWatcher {
  view: ChainView | undefined
  private lastEmitted: { index: number; timestamp: number } | undefined
  private timer: NodeJS.Timeout | undefined
  private running = false
  private failures = 0
  private readonly pollMs: number

  constructor(private readonly o: WatcherOptions) {
    this.pollMs = Math.max(POLL_MS_MIN, Math.floor(o.pollMs))
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.schedule(0)
  }

  stop(): void {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule(ms: number): void {
    if (!this.running) return
    this.timer = setTimeout(() => {
      this.tick().finally(() => this.schedule(this.pollMs))
    }, ms)
  }

  private async tick(): Promise<void> {
    try {
      await this.poll()
      this.failures = 0
    } catch (err) {
      if (this.failures++ % WARN_EVERY_FAILURES === 0) this.o.log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'block watcher: poll failed')
    }
  }

  /** One poll: returns the fresh view, or the old one when no new ledger closed. */
  async poll(): Promise<ChainView | undefined> {
    // Never NaN: latestLedger() falls back when the RPC (< v25) leaves closeTime out, or throws.
    const latest = await readLatestLedger(this.o.rpc)
    const closeTime = latest.closeTime
    // A ledger implausibly far ahead (one bad answer) is ignored: taken as the view's
    // ledger it stopped every later poll here ("not newer") and the block cycle with it.
    if (!this.o.clock.observe(latest.sequence, closeTime)) return this.view
    // Not newer — unless the clock re-anchored back below the view (a bogus first answer the view took too).
    if (this.view && latest.sequence <= this.view.ledger && this.view.ledger <= this.o.clock.ledger) return this.view
    const known = this.view?.farmIndex
    const keys = [instanceKey(this.o.net.contractId)]
    if (known !== undefined) keys.push(blockKey(this.o.net.contractId, known), blockKey(this.o.net.contractId, known + 1))
    const { entries } = await readEntries(this.o.rpc, keys)
    const inst = entries.get(keyId(keys[0]!))
    if (!inst) throw new Error('farm contract instance missing')
    const state = decodeInstance(inst.val)
    let blockEntry = entries.get(keyId(blockKey(this.o.net.contractId, state.farmIndex)))
    if (!blockEntry && state.farmIndex > 0 && (known === undefined || state.farmIndex > known + 1)) {
      // First poll, or the index jumped: one more read for Block(F).
      const again = await readEntries(this.o.rpc, [blockKey(this.o.net.contractId, state.farmIndex)])
      blockEntry = again.entries.values().next().value
    }
    let block: BlockData | undefined
    if (blockEntry) {
      try {
        block = decodeBlock(contractDataValue(blockEntry.val))
      } catch {
        block = undefined
      }
      if (block && !isConsistent(block, state, closeTime, this.lastEmitted?.timestamp)) block = undefined
    }
    // The ledger is getLatestLedger's, checked above: the entries' latestLedger is not (one bad answer must not set it).
    const view: ChainView = { ledger: latest.sequence, closeTime, farmIndex: state.farmIndex, paused: state.paused, block }
    this.view = view
    if (block && (this.lastEmitted === undefined || state.farmIndex > this.lastEmitted.index)) {
      this.lastEmitted = { index: state.farmIndex, timestamp: block.timestamp }
      this.o.metrics?.blockIndex.set(state.farmIndex)
      this.o.metrics?.blockOpenedSeconds.set(block.timestamp)
      this.o.onBlock({ index: state.farmIndex, entropy: block.entropy, timestamp: block.timestamp, stats: block.stats, ledger: view.ledger }, view)
    }
    this.o.onView?.(view)
    return view
  }
}
