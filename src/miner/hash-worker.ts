// One mining thread (see hash-threads.ts). Hashes its nonce range of the current
// job in chunks inside the WebAssembly kernel; between chunks it yields to the
// event loop, which is where a new job or `stop` arrives. Chunks are sized to
// last about CHUNK_MS so a job switch takes effect within tens of milliseconds.
// Work it is given again continues where it stopped (scan-memory.ts).
import { parentPort, workerData } from 'node:worker_threads'
import { NonceSearch } from '../kale/keccak-kernel.js'
import { ScanMemory } from './scan-memory.js'

export interface WorkerJob {
  type: 'job'
  gen: number
  jobId: string
  template: Uint8Array
  target: Uint8Array
  /** First nonce of this thread's range and the end (exclusive, at most 2^64). */
  start: bigint
  end: bigint
  /** The work (block, entropy, farmer key, extranonce1): a job of the same work resumes this thread's scan of it. */
  workKey: string
  block: number
  /** cleanJobs: the work of other blocks is void and forgotten. */
  clean: boolean
}
export type ToWorker = WorkerJob | { type: 'idle' }
export type FromWorker =
  | { type: 'found'; gen: number; jobId: string; nonce: bigint; hash: Uint8Array }
  | { type: 'exhausted'; gen: number; jobId: string }

export interface HashWorkerData {
  thread: number
  /** BigInt64Array over a SharedArrayBuffer: hashes done, one slot per thread. */
  counters: SharedArrayBuffer
}

const CHUNK_MS = 20
const CHUNK_MIN = 4_096
const CHUNK_MAX = 1 << 22
const FOUND_PER_CHUNK_MAX = 16

const port = parentPort
if (!port) throw new Error('hash-worker.js runs as a worker thread')
const data = workerData as HashWorkerData
const counters = new BigInt64Array(data.counters)
const search = new NonceSearch()
const memory = new ScanMemory()
let job: WorkerJob | undefined
let next = 0n
// Start small: the first chunks run before the JIT's optimising tier and size the rest.
let chunk = CHUNK_MIN
let scheduled = false

function step(): void {
  scheduled = false
  const j = job
  if (!j) return
  if (next >= j.end) {
    port!.postMessage({ type: 'exhausted', gen: j.gen, jobId: j.jobId } satisfies FromWorker)
    leave()
    return
  }
  const left = j.end - next
  const count = left < BigInt(chunk) ? Number(left) : chunk
  const t0 = performance.now()
  const { hashes, found } = search.search(next, count, FOUND_PER_CHUNK_MAX)
  const ms = performance.now() - t0
  next += BigInt(hashes)
  Atomics.add(counters, data.thread, BigInt(hashes))
  for (const f of found) port!.postMessage({ type: 'found', gen: j.gen, jobId: j.jobId, nonce: f.nonce, hash: f.hash } satisfies FromWorker)
  // Keep chunks near CHUNK_MS whatever the machine's speed or load.
  if (hashes === count && ms > 0) chunk = Math.max(CHUNK_MIN, Math.min(CHUNK_MAX, Math.round((chunk * CHUNK_MS) / ms)))
  schedule()
}

/** Stops the current job, remembering how far its work got. */
function leave(): void {
  if (job) memory.save(job.workKey, job.block, next)
  job = undefined
}

function schedule(): void {
  if (scheduled) return
  scheduled = true
  setImmediate(step)
}

port.on('message', (msg: ToWorker) => {
  leave()
  if (msg.type === 'idle') return
  job = msg
  next = memory.resume(msg.workKey, msg.block, msg.clean, msg.start)
  search.setWork(msg.template, msg.target)
  schedule()
})
