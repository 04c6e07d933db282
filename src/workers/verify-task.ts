// The Piscina task: keccak256 of N preimages packed in one transferable buffer,
// N hashes back in one transferable buffer. Synchronous, no per-share objects
// crossing threads: the only messages are two ArrayBuffers per batch.
import { Piscina } from 'piscina'
import { keccak256 } from '../kale/index.js'

export const PREIMAGE_BYTES = 76
export const HASH_BYTES = 32

export interface VerifyTask {
  /** count × 76 bytes */
  preimages: ArrayBuffer
  count: number
}

/** The work of one task, exported for the single-thread baseline of bench/verify.ts. */
export function hashBatch(preimages: Uint8Array, count: number, out: Uint8Array): void {
  for (let i = 0; i < count; i++) {
    out.set(keccak256(preimages.subarray(i * PREIMAGE_BYTES, (i + 1) * PREIMAGE_BYTES)), i * HASH_BYTES)
  }
}

/** Returns count × 32 bytes of hashes, transferred (not copied) back. */
export default function verify(task: VerifyTask): ArrayBuffer {
  const out = new Uint8Array(task.count * HASH_BYTES)
  hashBatch(new Uint8Array(task.preimages), task.count, out)
  return Piscina.move(out.buffer) as ArrayBuffer
}
