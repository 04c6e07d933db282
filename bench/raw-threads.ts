// N threads hashing with the raw batch kernel at once, no pool and no collecting
// thread: the machine's own parallel ceiling for the verify bench. Comparing the
// pool with it separates what the pool costs from what the machine cannot give
// (shared cores, frequency, a busy neighbour on the host).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { randomBytes } from 'node:crypto'
import { keccak256Batch76, preimage, PREIMAGE_BYTES, HASH_BYTES } from '../src/kale/index.js'

/** Hashes/s of one thread running the batch kernel for `seconds`. */
export function rawRate(seconds: number, batch: number): number {
  const pre = new Uint8Array(batch * PREIMAGE_BYTES)
  for (let i = 0; i < batch; i++) pre.set(preimage(7, BigInt(i), randomBytes(32), randomBytes(32)), i * PREIMAGE_BYTES)
  const out = new Uint8Array(batch * HASH_BYTES)
  let n = 0
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  while (performance.now() < end) {
    keccak256Batch76(pre, batch, out)
    n += batch
  }
  return n / ((performance.now() - t0) / 1000)
}

interface RawThreadsData {
  rawThreadsBatch: number
}

export class RawThreads {
  private readonly workers: Worker[]

  constructor(threads: number, batch: number) {
    const data: RawThreadsData = { rawThreadsBatch: batch }
    this.workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url), { workerData: data }))
  }

  /** Hashes/s of all threads together, each hashing for `seconds` at the same time. */
  async rate(seconds: number): Promise<number> {
    const rates = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<number>((resolve, reject) => {
            w.once('error', reject)
            w.once('message', (rate: number) => {
              w.off('error', reject)
              resolve(rate)
            })
            w.postMessage(seconds)
          }),
      ),
    )
    return rates.reduce((a, b) => a + b, 0)
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}

if (!isMainThread && (workerData as RawThreadsData | undefined)?.rawThreadsBatch) {
  const batch = (workerData as RawThreadsData).rawThreadsBatch
  parentPort!.on('message', (seconds: number) => parentPort!.postMessage(rawRate(seconds, batch)))
}
