// Bounds on the work the HTTP server asks of the pool. A view call reads the
// database (the pool whose connections the share flush needs) or probes the
// RPC, so the server never starts more than HTTP_VIEWS_IN_FLIGHT_MAX of them;
// the answers everyone asks for at once (/health, /api/pool, the status page)
// are computed once and shared, which bounds them without the cap. No sockets here.
import type { PoolView } from './view.js'

/**
 * At most `max` calls running at once; one more is refused at once with the
 * error `refuse()` makes, never queued. A call keeps its slot until it settles,
 * even after its request was answered "timed out": the cap counts the work the
 * pool is doing, not the answers still owed.
 */
export class InFlightCap {
  private running = 0

  constructor(
    readonly max: number,
    private readonly refuse: () => Error,
  ) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) return Promise.reject(this.refuse())
    this.running++
    let p: Promise<T>
    try {
      p = fn()
    } catch (err) {
      p = Promise.reject(err)
    }
    return p.finally(() => this.running--)
  }
}

/**
 * `compute` shared by every caller while it runs, and its result reused for
 * `cacheMs` after it ends: a flood of /health costs one probe round per
 * `cacheMs`, not one per request. A failure is shared by the callers that were
 * waiting for it, never kept.
 */
export function coalesced<T>(compute: () => Promise<T>, cacheMs: number): () => Promise<T> {
  let running: Promise<T> | undefined
  let kept: { value: T; untilMs: number } | undefined
  return () => {
    if (kept !== undefined && Date.now() < kept.untilMs) return Promise.resolve(kept.value)
    running ??= compute().then(
      (value) => {
        kept = { value, untilMs: Date.now() + cacheMs }
        running = undefined
        return value
      },
      (err: unknown) => {
        running = undefined
        throw err
      },
    )
    return running
  }
}

/**
 * The view the public routes use: health and the pool summary coalesced, every
 * other call under `cap`. Coalescing already bounds health and pool to one call
 * in flight each, so they stay out of the cap: public API load holding every
 * slot must not turn /health into 503 BUSY while the pool is fine (a load
 * balancer or Kubernetes would then drop or restart a healthy pool). Admin
 * actions pass straight through: the server runs them one at a time, and a
 * flood of public requests must not lock the operator out.
 */
export function boundedView(view: PoolView, cap: InFlightCap, cacheMs: number): PoolView {
  return {
    health: coalesced(() => view.health(), cacheMs),
    pool: coalesced(() => view.pool(), cacheMs),
    blocks: (limit, before) => cap.run(() => view.blocks(limit, before)),
    miner: (address, blocksLimit) => cap.run(() => view.miner(address, blocksLimit)),
    farmers: (limit) => cap.run(() => view.farmers(limit)),
    addFarmers: (count, stakePercent) => view.addFarmers(count, stakePercent),
    disableFarmer: (publicKey) => view.disableFarmer(publicKey),
    runPayouts: () => view.runPayouts(),
  }
}
