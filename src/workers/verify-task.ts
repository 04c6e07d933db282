// The Piscina task: keccak256 of a batch of shares, the hashes written back into
// the batch's own buffer. No per-share objects cross threads and nothing is
// allocated per batch: the collecting thread fills a slot (a buffer it keeps and
// reuses), transfers it here, and gets the same buffer back with the hashes in it.
// (A fresh 128 KiB answer buffer per batch made a single-thread batch loop 8–40 %
// slower than a reused one, likely page faults on first touch and external memory
// for the collector; in the pool, reuse gave +3–5 % shares/s, same-process A/B.)
//
// Slot layout for a slot of `capacity` shares (offsets in bytes):
//   [0, 76·TEMPLATES_PER_BATCH_MAX)   distinct job templates (76-byte preimages)
//   [whichAt, + capacity)             each share's template number
//   [digitsAt, + 16·capacity)         each share's nonce as 16 ASCII hex digits
//   [hashesAt, + 32·capacity)         each share's hash (written here)
import { Piscina } from 'piscina'
import { keccak256BatchTemplated, PREIMAGE_BYTES, HASH_BYTES } from '../kale/index.js'
import { NONCE_HEX_CHARS } from '../kale/keccak-kernel.js'

export { PREIMAGE_BYTES, HASH_BYTES, NONCE_HEX_CHARS }

/** Distinct job templates in one batch at most; a share for another template seals the batch. */
export const TEMPLATES_PER_BATCH_MAX = 32

export interface VerifyTask {
  /** The slot, transferred here and back. */
  buf: ArrayBuffer
  /** Shares in the batch (≤ capacity). */
  count: number
  /** Templates in use (≤ TEMPLATES_PER_BATCH_MAX). */
  templates: number
  /** Shares the slot is laid out for. */
  capacity: number
}

export interface SlotLayout {
  whichAt: number
  digitsAt: number
  hashesAt: number
  bytes: number
}

/** Where each region of a slot of `capacity` shares starts, and its size. */
export function slotLayout(capacity: number): SlotLayout {
  const whichAt = TEMPLATES_PER_BATCH_MAX * PREIMAGE_BYTES
  const digitsAt = whichAt + capacity
  const hashesAt = digitsAt + NONCE_HEX_CHARS * capacity
  return { whichAt, digitsAt, hashesAt, bytes: hashesAt + HASH_BYTES * capacity }
}

/** Hashes the batch into its slot's hash region; returns the slot (transferred back). */
export default function verify(task: VerifyTask): ArrayBuffer {
  const { count, capacity, templates } = task
  const at = slotLayout(capacity)
  if (!(task.buf instanceof ArrayBuffer) || task.buf.byteLength < at.bytes || !(count >= 0 && count <= capacity) || !(templates >= 0 && templates <= TEMPLATES_PER_BATCH_MAX)) {
    throw new TypeError('verify task: slot smaller than its layout, or count/templates out of range')
  }
  const all = new Uint8Array(task.buf)
  keccak256BatchTemplated(
    all.subarray(0, templates * PREIMAGE_BYTES),
    all.subarray(at.digitsAt, at.digitsAt + NONCE_HEX_CHARS * count),
    all.subarray(at.whichAt, at.whichAt + count),
    count,
    all.subarray(at.hashesAt, at.hashesAt + HASH_BYTES * count),
  )
  return Piscina.move(task.buf) as ArrayBuffer
}
