// The reference CPU miner: a StratumClient feeding jobs to HashThreads and
// submitting what they find. Counts accepted/rejected shares; bounds submits in
// flight so a too-low difficulty cannot flood the pool (extra finds are dropped
// and counted, and vardiff raises the difficulty within one retarget).
import { StratumClient, isAuthorizeRefused, type ClientOptions, type JobNotice } from './client.js'
import { backoffMs, BACKOFF_MS_MIN, BACKOFF_MS_MAX } from './reconnect.js'
import { HashThreads, type FoundShare } from './hash-threads.js'

export const SUBMITS_IN_FLIGHT_MAX = 64
/** Job ids kept worth submitting to: a block has a handful of jobs per session (the pool holds its 8 newest). */
export const JOBS_LIVE_MAX = 16

export interface MinerStats {
  hashes: number
  accepted: number
  /** Shares the pool answered with an error (its verdict); by code in `rejects`. */
  rejected: number
  /** Submits that got no answer (connection lost, timed out): the pool may or may not have judged them. */
  lost: number
  dropped: number
  /** Reject counts by error code. */
  rejects: Record<number, number>
}

/**
 * Notes a job in `live`, the jobs of the current block still worth submitting
 * to (cleanJobs=true clears it). A re-sent id counts as the newest, so the job
 * being mined is never the one evicted at JOBS_LIVE_MAX.
 */
export function noteJob(live: Set<string>, jobId: string, cleanJobs: boolean, jobsMax = JOBS_LIVE_MAX): void {
  if (cleanJobs) live.clear()
  live.delete(jobId)
  live.add(jobId)
  if (live.size > jobsMax) live.delete(live.values().next().value!)
}

export class Miner {
  readonly client: StratumClient
  private engine: HashThreads | undefined
  private inFlight = 0
  private readonly live = new Set<string>()
  private stopped = false
  private wake: (() => void) | undefined
  readonly stats: MinerStats = { hashes: 0, accepted: 0, rejected: 0, lost: 0, dropped: 0, rejects: {} }

  constructor(private readonly opts: ClientOptions & { threads: number }) {
    this.client = new StratumClient(opts)
  }

  /**
   * Starts the hash threads and connects. Resolves once connected (or stopped);
   * rejects when the threads cannot start or the pool refuses the username.
   */
  async start(): Promise<void> {
    const engine = await HashThreads.start({
      threads: this.opts.threads,
      onShare: (s) => this.found(s),
      onError: (err) => this.client.emit('minerError', err),
    })
    // stop() during the threads' start found no engine to stop.
    if (this.stopped) return engine.stop()
    this.engine = engine
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
   * exiting. Emits 'connectFailed' (err, delayMs, url) on the client per attempt. A
   * refused username is not retried.
   */
  private async connectFirst(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const url = this.client.url
      try {
        await this.client.connect()
        return
      } catch (err) {
        if (this.stopped) return
        if (isAuthorizeRefused(err)) throw err
        const delay = backoffMs(attempt, this.opts.backoffMsMin ?? BACKOFF_MS_MIN, this.opts.backoffMsMax ?? BACKOFF_MS_MAX)
        this.client.emit('connectFailed', err, delay, url)
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
    noteJob(this.live, j.jobId, j.cleanJobs)
    try {
      this.engine?.setJob(j)
    } catch (err) {
      // The client checked the job; a throw here is the engine's (stopped) or a bug: reported, never thrown into the socket handler.
      this.client.emit('minerError', err)
    }
  }

  private found(s: FoundShare): void {
    if (!this.live.has(s.jobId) || !this.client.ready) return
    if (this.inFlight >= SUBMITS_IN_FLIGHT_MAX) {
      this.stats.dropped++
      return
    }
    this.inFlight++
    void this.client.submit(s.jobId, s.nonceHex).then((r) => {
      this.inFlight--
      if (r.status === 'accepted') this.stats.accepted++
      else if (r.status === 'lost') this.stats.lost++
      else {
        this.stats.rejected++
        this.stats.rejects[r.code] = (this.stats.rejects[r.code] ?? 0) + 1
      }
    })
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    this.client.close()
    await this.engine?.stop()
  }
}
