// keccak256 (original Keccak padding, NOT NIST SHA3-256). This module is the one
// entry point for the rest of the project. The 76-byte KALE preimage goes through
// the generated WebAssembly kernel (keccak-wasm.ts: about 2x hash-wasm and 15-20x
// @noble/hashes in `npm run bench -- hash`); any other length through @noble/hashes.
import { keccak_256 } from '@noble/hashes/sha3.js'
import { keccak256Of76 } from './keccak-kernel.js'
import { PREIMAGE_BYTES } from './preimage.js'

export function keccak256(data: Uint8Array): Uint8Array {
  return data.length === PREIMAGE_BYTES ? keccak256Of76(data) : keccak_256(data)
}

export {
  /**
   * The batch kernel over whole preimages: hashes `count` packed 76-byte preimages
   * (`preimages`, 76 × count bytes) into 32 × count bytes (hash i at offset 32·i),
   * synchronously, in this thread's WebAssembly instance. Pair with `zerosAt(out, 32 * i)`.
   */
  keccak256Batch76,
  /** The verifier's form: preimages assembled from shared templates and 8-byte nonces (see keccak-kernel.ts). */
  keccak256BatchTemplated,
  /** Leading zero nibbles of the 32-byte hash at `hashes[offset..]`. */
  zerosAt,
  /** The mining kernel: `new NonceSearch()`, `setWork(template76, target32)`, `search(start, count, foundMax)`. */
  NonceSearch,
  HASH_BYTES,
  SEARCH_COUNT_MAX,
  type FoundNonce,
  type SearchResult,
} from './keccak-kernel.js'
