// The Piscina task: keccak256 of N preimages packed in one transferable buffer,
// N hashes back in one transferable buffer. Synchronous, no per-share objects
// crossing threads: the only messages are two ArrayBuffers per batch.
import { Piscina } from 'piscina'
import { keccak256Batch76 } from '../kale/index.js'

export const PREIMAGE_BYTES = 76
export const HASH_BYTES = 32

export interface VerifyTask {
  /** count × 76 bytes */
  preimages: ArrayBuffer
  count: number
}

/** The work of one task (the WebAssembly batch kernel), exported for bench/verify.ts's single-thread baseline. */
export function hashBatch(preimages: Uint8Array, count: number, out: Uint8Array): void {
  keccak256Batch76(preimages, count, out)
}

/** Returns count × 32 bytes of hashes, transferred (not copied) back. */
export default function verify(task: VerifyTask): ArrayBuffer {
  const out = new Uint8Array(task.count * HASH_BYTES)
  hashBatch(new Uint8Array(task.preimages), task.count, out)
  return Piscina.move(out.buffer) as ArrayBuffer
}
