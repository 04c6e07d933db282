// The reference CPU miner: a StratumClient feeding jobs to HashThreads and
// submitting what they find. Counts accepted/rejected shares; bounds submits in
// flight so a too-low difficulty cannot flood the pool (extra finds are dropped
// and counted, and vardiff raises the difficulty within one retarget).
import { StratumClient, backoffMs, type ClientOptions, type JobNotice } from './client.js'
import { HashThreads, type FoundShare } from './hash-threads.js'

export const SUBMITS_IN_FLIGHT_MAX = 64

export interface MinerStats {
  hashes: number
  accepted: number
  rejected: number
  dropped: number
  /** Reject counts by error code. */
  rejects: Record<number, number>
}

export class Miner {
  readonly client: StratumClient
  private engine: HashThreads | undefined
  private inFlight = 0
  /** Jobs of the current block still worth submitting (cleanJobs=true clears it). */
  private readonly live = new Set<string>()
  private stopped = false
  private wake: (() => void) | undefined
  readonly stats: MinerStats = { hashes: 0, accepted: 0, rejected: 0, dropped: 0, rejects: {} }

  constructor(private readonly opts: ClientOptions & { threads: number }) {
    this.client = new StratumClient(opts)
  }

  async start(): Promise<void> {
    this.engine = await HashThreads.start({
      threads: this.opts.threads,
      onShare: (s) => this.found(s),
      onError: (err) => this.client.emit('minerError', err),
    })
    this.client.on('job', (j: JobNotice) => this.job(j))
    this.client.on('disconnect', () => {
      this.live.clear()
      this.engine?.idle()
    })
    await this.connectFirst()
  }

  /**
   * The first connection is retried with backoff like any later one: a miner
   * started before its pool (or during a pool restart) waits for it instead of
   * exiting. Emits 'connectFailed' (err, delayMs) on the client per attempt.
   */
  private async connectFirst(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.client.connect()
        return
      } catch (err) {
        if (this.stopped) return
        const delay = backoffMs(attempt, this.opts.backoffMsMin ?? 500, this.opts.backoffMsMax ?? 30_000)
        this.client.emit('connectFailed', err, delay)
        await new Promise<void>((resolve) => {
          this.wake = resolve
          setTimeout(resolve, delay).unref()
        })
      }
    }
  }

  get hashes(): number {
    return this.engine?.hashes ?? 0
  }

  private job(j: JobNotice): void {
    if (j.cleanJobs) this.live.clear()
    this.live.add(j.jobId)
    // Bounded: a block has a handful of jobs per session; keep the newest 16.
    if (this.live.size > 16) this.live.delete(this.live.values().next().value!)
    this.engine?.setJob(j)
  }

  private found(s: FoundShare): void {
    if (!this.live.has(s.jobId) || !this.client.ready) return
    if (this.inFlight >= SUBMITS_IN_FLIGHT_MAX) {
      this.stats.dropped++
      return
    }
    this.inFlight++
    this.client.submit(s.jobId, s.nonceHex).then((r) => {
      this.inFlight--
      if (r.ok) this.stats.accepted++
      else {
        this.stats.rejected++
        this.stats.rejects[r.code] = (this.stats.rejects[r.code] ?? 0) + 1
      }
    }, () => {
      this.inFlight--
    })
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    this.client.close()
    await this.engine?.stop()
  }
}
