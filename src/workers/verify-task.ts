// The Piscina task: keccak256 of a batch of shares packed in one transferable
// buffer, the hashes back in the same buffer. No per-share objects cross
// threads: one ArrayBuffer each way per batch.
//
// Batch layout (offsets in bytes; `templatesMax` and `batchMax` fix the regions):
//   [0, 76·templatesMax)                 distinct job templates (76-byte preimages)
//   [noncesAt, noncesAt + 8·count)        each share's nonce, big-endian
//   [whichAt, whichAt + count)            each share's template number
// The answer overwrites the buffer from offset 0 with count × 32 bytes of hashes,
// so the buffer is sized for the larger of the two.
import { Piscina } from 'piscina'
import { keccak256BatchTemplated, PREIMAGE_BYTES, HASH_BYTES } from '../kale/index.js'
import { BATCH_CHUNK_MAX, NONCE_BYTES } from '../kale/keccak-kernel.js'

export { PREIMAGE_BYTES, HASH_BYTES, NONCE_BYTES }

export interface VerifyTask {
  buf: ArrayBuffer
  count: number
  templates: number
  noncesAt: number
  whichAt: number
}

/** Where each region starts, and the buffer size, for batches of at most `batchMax` shares and `templatesMax` templates. */
export function batchLayout(batchMax: number, templatesMax: number): { noncesAt: number; whichAt: number; bytes: number } {
  const noncesAt = templatesMax * PREIMAGE_BYTES
  const whichAt = noncesAt + batchMax * NONCE_BYTES
  return { noncesAt, whichAt, bytes: Math.max(whichAt + batchMax, batchMax * HASH_BYTES) }
}

/** Hashes the batch; returns the same buffer (transferred back) holding count × 32 bytes of hashes. */
export default function verify(task: VerifyTask): ArrayBuffer {
  const all = new Uint8Array(task.buf)
  const templates = all.subarray(0, task.templates * PREIMAGE_BYTES)
  const nonces = all.subarray(task.noncesAt, task.noncesAt + task.count * NONCE_BYTES)
  const which = all.subarray(task.whichAt, task.whichAt + task.count)
  // Within one kernel chunk every input is read before the first hash is written
  // back, so the hashes may overwrite the inputs; larger batches get their own buffer.
  const out = task.count <= BATCH_CHUNK_MAX ? all : new Uint8Array(task.count * HASH_BYTES)
  keccak256BatchTemplated(templates, nonces, which, task.count, out)
  return Piscina.move(out.buffer as ArrayBuffer) as ArrayBuffer
}
