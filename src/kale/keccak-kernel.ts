// The JavaScript side of the WebAssembly keccak kernels (keccak-wasm.ts): one
// instance per thread for batch hashing, and one per NonceSearch for mining.
import { PoolError, ErrorCode } from '../errors.js'
import { FOUND_RECORD_BYTES, FOUND_RECORDS_MAX, MEM, PAGE_BYTES, instantiateKernel, keccakKernelModule, type WasmMemory } from './keccak-wasm.js'
import { PREIMAGE_BYTES, U64_MAX } from './preimage.js'
import { zerosIn } from './difficulty.js'

export const HASH_BYTES = 32
/** Bytes of a nonce in the preimage (bytes 4..12, big-endian). */
const NONCE_BYTES = 8

interface KernelExports {
  memory: WasmMemory
  hashBatch(inPtr: number, outPtr: number, n: number): void
  hashTemplated(templatesPtr: number, templateCount: number, noncesPtr: number, whichPtr: number, outPtr: number, n: number): number
  mine(startNonce: bigint, count: number): number
}

function instantiate(): KernelExports {
  return instantiateKernel(keccakKernelModule()) as KernelExports
}

/** Preimages hashed per kernel call: bounds the kernel's memory at ~2.3 MB. */
export const BATCH_CHUNK_MAX = 16_384

let shared: { k: KernelExports; bytes: Buffer } | undefined

function sharedKernel(): { k: KernelExports; bytes: Buffer } {
  if (shared) return shared
  const k = instantiate()
  // The larger of the two batch layouts: keccak256Batch76's and keccak256BatchTemplated's.
  const need = MEM.heap + Math.max(BATCH_CHUNK_MAX * (PREIMAGE_BYTES + HASH_BYTES), TEMPLATES_MAX * PREIMAGE_BYTES + BATCH_CHUNK_MAX * (NONCE_HEX_CHARS + 1 + HASH_BYTES))
  const have = k.memory.buffer.byteLength
  if (need > have) k.memory.grow(Math.ceil((need - have) / PAGE_BYTES))
  // A Buffer over the kernel's memory: typed-array access plus the native latin1 write.
  shared = { k, bytes: Buffer.from(k.memory.buffer) }
  return shared
}

/**
 * Hashes `count` packed 76-byte preimages (`preimages.length` ≥ 76 × count) into
 * `out` (32 × count bytes, allocated when omitted) and returns it. Hash i is
 * `out.subarray(32 * i, 32 * i + 32)`. Synchronous, no allocation per hash (the
 * verify bench's single-thread baseline; verification itself uses keccak256BatchTemplated).
 */
export function keccak256Batch76(preimages: Uint8Array, count = Math.floor(preimages.length / PREIMAGE_BYTES), out?: Uint8Array): Uint8Array {
  if (!Number.isInteger(count) || count < 0 || preimages.length < count * PREIMAGE_BYTES) {
    throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'preimages must hold count × 76 bytes')
  }
  const result = out ?? new Uint8Array(count * HASH_BYTES)
  if (result.length < count * HASH_BYTES) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'out must hold count × 32 bytes')
  const { k, bytes } = sharedKernel()
  const inPtr = MEM.heap
  const outPtr = MEM.heap + BATCH_CHUNK_MAX * PREIMAGE_BYTES
  for (let done = 0; done < count; ) {
    const n = Math.min(BATCH_CHUNK_MAX, count - done)
    bytes.set(preimages.subarray(done * PREIMAGE_BYTES, (done + n) * PREIMAGE_BYTES), inPtr)
    k.hashBatch(inPtr, outPtr, n)
    result.set(bytes.subarray(outPtr, outPtr + n * HASH_BYTES), done * HASH_BYTES)
    done += n
  }
  return result
}

/** Templates one keccak256BatchTemplated call takes at most (`which` holds bytes). */
export const TEMPLATES_MAX = 256

/** ASCII hex digits of one nonce in keccak256BatchTemplated's `nonceHex`. */
export const NONCE_HEX_CHARS = 2 * NONCE_BYTES

/**
 * The verifier's batch form: share i's preimage is template `which[i]` (76 bytes
 * each, packed in `templates`) with bytes 4..12 being the nonce written as the 16
 * hex digits at `nonceHex[16i]` (either case; the caller has validated them), as a
 * string or as ASCII bytes. The digits go into the kernel's memory in one native
 * write or copy, and the kernel decodes
 * them and loads each share's lanes straight from its template, so nothing per
 * share runs in JavaScript here, and the thread that collects shares does no
 * per-digit work at all. Hash i lands at `out[32i]`.
 */
export function keccak256BatchTemplated(templates: Uint8Array, nonceHex: string | Uint8Array, which: Uint8Array, count: number, out: Uint8Array): void {
  const templateCount = Math.floor(templates.length / PREIMAGE_BYTES)
  if (!Number.isInteger(count) || count < 0 || nonceHex.length < count * NONCE_HEX_CHARS || which.length < count || out.length < count * HASH_BYTES) {
    throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'nonceHex, which and out must hold count shares')
  }
  if (templateCount > TEMPLATES_MAX) throw new PoolError(ErrorCode.ARGUMENT_INVALID, `at most ${TEMPLATES_MAX} templates per call`)
  const { k, bytes } = sharedKernel()
  // Regions of the kernel's batch area (sized in sharedKernel): templates, then per share 16 + 1 + 32 bytes.
  const tplPtr = MEM.heap
  const noncePtr = tplPtr + TEMPLATES_MAX * PREIMAGE_BYTES
  const whichPtr = noncePtr + BATCH_CHUNK_MAX * NONCE_HEX_CHARS
  const outPtr = whichPtr + BATCH_CHUNK_MAX
  bytes.set(templates.subarray(0, templateCount * PREIMAGE_BYTES), tplPtr)
  for (let done = 0; done < count; ) {
    const n = Math.min(BATCH_CHUNK_MAX, count - done)
    if (typeof nonceHex === 'string') {
      const digits = done === 0 && n === count ? nonceHex : nonceHex.slice(done * NONCE_HEX_CHARS, (done + n) * NONCE_HEX_CHARS)
      bytes.write(digits, noncePtr, n * NONCE_HEX_CHARS, 'latin1')
    } else bytes.set(nonceHex.subarray(done * NONCE_HEX_CHARS, (done + n) * NONCE_HEX_CHARS), noncePtr)
    bytes.set(which.subarray(done, done + n), whichPtr)
    const hashed = k.hashTemplated(tplPtr, templateCount, noncePtr, whichPtr, outPtr, n)
    if (hashed < n) throw new PoolError(ErrorCode.ARGUMENT_INVALID, `share ${done + hashed} names template ${which[done + hashed]} of ${templateCount}`)
    out.set(bytes.subarray(outPtr, outPtr + n * HASH_BYTES), done * HASH_BYTES)
    done += n
  }
}

/** keccak256 of one 76-byte preimage through the kernel (a fresh 32-byte array). */
export function keccak256Of76(pre: Uint8Array): Uint8Array {
  const { k, bytes } = sharedKernel()
  bytes.set(pre, MEM.heap)
  k.hashBatch(MEM.heap, MEM.heap + PREIMAGE_BYTES, 1)
  return Uint8Array.from(bytes.subarray(MEM.heap + PREIMAGE_BYTES, MEM.heap + PREIMAGE_BYTES + HASH_BYTES))
}

/** Leading zero nibbles of the hash at `hashes[offset .. offset+32)`. */
export function zerosAt(hashes: Uint8Array, offset: number): number {
  return zerosIn(hashes, offset, HASH_BYTES)
}

export interface FoundNonce {
  nonce: bigint
  hash: Uint8Array
}

export interface SearchResult {
  /** Nonces hashed (fewer than asked only when foundMax was reached or the nonce space ended). */
  hashes: number
  /** Nonces whose hash ≤ target, in nonce order, at most foundMax. */
  found: FoundNonce[]
}

/** Nonces per search() call at most, so one call stays well under a second. */
export const SEARCH_COUNT_MAX = 1 << 24

/**
 * A mining loop over one preimage template, inside WebAssembly. Each instance owns
 * its kernel instance (one per mining thread). Usage:
 *   const s = new NonceSearch(); s.setWork(preimage76, target32)
 *   const { hashes, found } = s.search(startNonce, count)
 */
export class NonceSearch {
  private readonly k = instantiate()
  private readonly view = new DataView(this.k.memory.buffer)
  private readonly bytes = new Uint8Array(this.k.memory.buffer)
  private ready = false

  /** `template`: the 76-byte preimage (its nonce bytes 4..11 are ignored); `target`: 32 big-endian bytes. */
  setWork(template: Uint8Array, target: Uint8Array): void {
    if (template.length !== PREIMAGE_BYTES) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'template must be 76 bytes')
    if (target.length !== HASH_BYTES) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'target must be 32 bytes')
    this.bytes.set(template, MEM.template)
    const t = new DataView(target.buffer, target.byteOffset, HASH_BYTES)
    for (let w = 0; w < 4; w++) this.view.setBigUint64(MEM.target + 8 * w, t.getBigUint64(8 * w, false), true)
    this.ready = true
  }

  /** Hashes nonces start, start+1, … (count of them, bounded by 2^64-1); returns found nonces, at most foundMax. */
  search(start: bigint, count: number, foundMax = 16): SearchResult {
    if (!this.ready) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'setWork() before search()')
    if (typeof start !== 'bigint' || start < 0n || start > U64_MAX) throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'start nonce must be 0..2^64-1')
    if (!Number.isInteger(count) || count < 0 || count > SEARCH_COUNT_MAX) {
      throw new PoolError(ErrorCode.ARGUMENT_INVALID, `count must be an integer 0..${SEARCH_COUNT_MAX}`)
    }
    if (!Number.isInteger(foundMax) || foundMax < 1 || foundMax > FOUND_RECORDS_MAX) {
      throw new PoolError(ErrorCode.ARGUMENT_INVALID, `foundMax must be an integer 1..${FOUND_RECORDS_MAX}`)
    }
    const room = U64_MAX - start + 1n
    const n = room < BigInt(count) ? Number(room) : count
    this.view.setInt32(MEM.foundMax, foundMax, true)
    this.view.setInt32(MEM.foundCount, 0, true)
    const hashes = n === 0 ? 0 : this.k.mine(start, n)
    const found: FoundNonce[] = []
    const fc = this.view.getInt32(MEM.foundCount, true)
    for (let i = 0; i < fc; i++) {
      const at = MEM.found + FOUND_RECORD_BYTES * i
      found.push({ nonce: this.view.getBigUint64(at, true), hash: this.bytes.slice(at + 8, at + 8 + HASH_BYTES) })
    }
    return { hashes, found }
  }
}
