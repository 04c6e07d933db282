// The Piscina task: keccak256 of a batch of shares, the hashes back in one
// transferable buffer. No per-share objects cross threads: one ArrayBuffer each
// way per batch, plus one string of the shares' nonce digits on the way in.
//
// Batch layout (offsets in bytes; `templatesMax` and `batchMax` fix the regions):
//   [0, 76·templatesMax)                 distinct job templates (76-byte preimages)
//   [whichAt, whichAt + count)            each share's template number
// `nonceHex` holds each share's nonce as 16 hex digits, concatenated.
// The answer is a new buffer of count × 32 bytes of hashes, allocated here: the
// collecting thread allocates only the small input buffer (and collects its garbage).
import { Piscina } from 'piscina'
import { keccak256BatchTemplated, PREIMAGE_BYTES, HASH_BYTES } from '../kale/index.js'
import { NONCE_HEX_CHARS } from '../kale/keccak-kernel.js'

export { PREIMAGE_BYTES, HASH_BYTES, NONCE_HEX_CHARS }

export interface VerifyTask {
  buf: ArrayBuffer
  count: number
  templates: number
  whichAt: number
  nonceHex: string
}

/** Where the template numbers start, and the buffer size, for a batch of `count` shares and `templates` templates. */
export function batchLayout(count: number, templates: number): { whichAt: number; bytes: number } {
  const whichAt = templates * PREIMAGE_BYTES
  return { whichAt, bytes: whichAt + count }
}

/** Hashes the batch; returns a buffer (transferred) holding count × 32 bytes of hashes. */
export default function verify(task: VerifyTask): ArrayBuffer {
  const all = new Uint8Array(task.buf)
  const templates = all.subarray(0, task.templates * PREIMAGE_BYTES)
  const which = all.subarray(task.whichAt, task.whichAt + task.count)
  const out = Buffer.allocUnsafeSlow(task.count * HASH_BYTES)
  keccak256BatchTemplated(templates, task.nonceHex, which, task.count, out)
  return Piscina.move(out.buffer as ArrayBuffer) as ArrayBuffer
}
