import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { readFileSync } from 'node:fs'
import {
  keccak256, keccak256Batch76, keccak256BatchTemplated, NonceSearch, zerosAt, zeros, preimage, setNonce, U64_MAX, U32_MAX, SEARCH_COUNT_MAX,
} from '../../src/kale/index.js'
import { keccakKernelBytes, compileKernel, instantiateKernel, setMiddleUnroll, kernelNots, MEM } from '../../src/kale/keccak-wasm.js'
import { isPoolError } from '../../src/errors.js'

const fixture = JSON.parse(readFileSync(new URL('../fixtures/kale-hash.json', import.meta.url), 'utf8')) as {
  vectors: { index: number; nonce: string; entropy: string; farmerKey: string; preimage: string; hash: string; zeros: number }[]
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const noble = (b: Uint8Array): string => hex(keccak_256(b))
const ALL_FF = new Uint8Array(32).fill(0xff)

function searchAll(s: NonceSearch, start: bigint, count: number): Map<bigint, string> {
  const out = new Map<bigint, string>()
  let next = start
  let left = count
  while (left > 0 && next <= U64_MAX) {
    const r = s.search(next, left, 64)
    for (const f of r.found) out.set(f.nonce, hex(f.hash))
    if (r.hashes === 0) break
    next += BigInt(r.hashes)
    left -= r.hashes
  }
  return out
}

describe('keccak256 (the single entry point)', () => {
  it('matches every published vector', () => {
    for (const v of fixture.vectors) {
      const pre = preimage(v.index, BigInt(v.nonce), unhex(v.entropy), unhex(v.farmerKey))
      expect(hex(pre)).toBe(v.preimage)
      expect(hex(keccak256(pre))).toBe(v.hash)
      expect(zeros(keccak256(pre))).toBe(v.zeros)
    }
  })

  it('hashes the empty string (original Keccak padding, not SHA3)', () => {
    expect(hex(keccak256(new Uint8Array(0)))).toBe('c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470')
  })

  it('agrees with @noble/hashes on random inputs of any length', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (b) => hex(keccak256(b)) === noble(b)), { numRuns: 300 })
  })

  it('agrees with @noble/hashes on random 76-byte inputs (the kernel path)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 76, maxLength: 76 }), (b) => hex(keccak256(b)) === noble(b)), { numRuns: 500 })
  })

  it('returns a fresh array each call (no aliasing of kernel memory)', () => {
    const a = keccak256(unhex(fixture.vectors[0]!.preimage))
    const b = keccak256(unhex(fixture.vectors[1]!.preimage))
    expect(hex(a)).toBe(fixture.vectors[0]!.hash)
    expect(hex(b)).toBe(fixture.vectors[1]!.hash)
  })
})

describe('keccak256BatchTemplated (the verifier worker kernel: templates + nonce digits)', () => {
  it('hashes every vector from its template and its nonce as hex digits, in either case', () => {
    // Each vector is its own template; the nonce digits come from the preimage's bytes 4..12.
    const templates = new Uint8Array(fixture.vectors.length * 76)
    fixture.vectors.forEach((v, i) => templates.set(unhex(v.preimage), i * 76))
    // The template's own nonce bytes must not leak into the hash: blank them.
    fixture.vectors.forEach((_, i) => templates.fill(0xaa, i * 76 + 4, i * 76 + 12))
    const digits = fixture.vectors.map((v) => v.preimage.slice(8, 24))
    // As a string (the kernel writes it into its memory) and as ASCII bytes (the verifier's slot).
    const joined = digits.join('')
    for (const cased of [joined, joined.toUpperCase(), Buffer.from(joined, 'latin1'), Buffer.from(joined.toUpperCase(), 'latin1')]) {
      const out = new Uint8Array(fixture.vectors.length * 32)
      keccak256BatchTemplated(templates, cased, Uint8Array.from(fixture.vectors.map((_, i) => i)), fixture.vectors.length, out)
      fixture.vectors.forEach((v, i) => expect(hex(out.subarray(i * 32, i * 32 + 32))).toBe(v.hash))
    }
  })

  it('agrees with @noble/hashes for random templates, nonces and template choices', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 76, maxLength: 76 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.nat()), { minLength: 0, maxLength: 40 }),
        (tpls, shares) => {
          const templates = new Uint8Array(tpls.length * 76)
          tpls.forEach((t, i) => templates.set(t, i * 76))
          const which = Uint8Array.from(shares.map(([, w]) => w % tpls.length))
          const digits = shares.map(([n]) => n.toString(16).padStart(16, '0')).join('')
          const out = new Uint8Array(shares.length * 32)
          keccak256BatchTemplated(templates, digits, which, shares.length, out)
          return shares.every(([n], i) => {
            const pre = Uint8Array.from(tpls[which[i]!]!)
            new DataView(pre.buffer).setBigUint64(4, n, false)
            return hex(out.subarray(i * 32, i * 32 + 32)) === noble(pre)
          })
        },
      ),
    )
  })
})

describe('keccak256Batch76 (verification kernel)', () => {
  it('hashes all vectors packed in one buffer', () => {
    const packed = new Uint8Array(fixture.vectors.length * 76)
    fixture.vectors.forEach((v, i) => packed.set(unhex(v.preimage), i * 76))
    const out = keccak256Batch76(packed)
    fixture.vectors.forEach((v, i) => {
      expect(hex(out.subarray(i * 32, i * 32 + 32))).toBe(v.hash)
      expect(zerosAt(out, i * 32)).toBe(v.zeros)
    })
  })

  it('agrees with @noble/hashes on random batches', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 76, maxLength: 76 }), { minLength: 0, maxLength: 40 }), (pres) => {
        const packed = new Uint8Array(pres.length * 76)
        pres.forEach((p, i) => packed.set(p, i * 76))
        const out = keccak256Batch76(packed, pres.length)
        return pres.every((p, i) => hex(out.subarray(i * 32, i * 32 + 32)) === noble(p))
      }),
      { numRuns: 100 },
    )
  })

  it('crosses its internal chunk boundary (more than 16384 preimages) and writes into a given buffer', () => {
    const n = 16_384 + 3
    const packed = new Uint8Array(n * 76)
    for (let i = 0; i < packed.length; i++) packed[i] = (i * 131 + (i >> 7)) & 0xff
    const out = new Uint8Array(n * 32 + 5)
    expect(keccak256Batch76(packed, n, out)).toBe(out)
    for (const i of [0, 1, 16_383, 16_384, n - 1]) {
      expect(hex(out.subarray(i * 32, i * 32 + 32))).toBe(noble(packed.subarray(i * 76, i * 76 + 76)))
    }
  })

  it('hashes only `count` preimages of a longer buffer; count 0 gives nothing', () => {
    const packed = unhex(fixture.vectors.map((v) => v.preimage).join(''))
    expect(hex(keccak256Batch76(packed, 1))).toBe(fixture.vectors[0]!.hash)
    expect(keccak256Batch76(packed, 0).length).toBe(0)
  })

  it('rejects short buffers and bad counts', () => {
    const packed = new Uint8Array(76 * 2)
    expect(() => keccak256Batch76(packed, 3)).toThrow(/count × 76/)
    expect(() => keccak256Batch76(packed, -1)).toThrow(/count × 76/)
    expect(() => keccak256Batch76(packed, 1.5)).toThrow(/count × 76/)
    expect(() => keccak256Batch76(packed, 2, new Uint8Array(63))).toThrow(/count × 32/)
    try {
      keccak256Batch76(packed, 3)
    } catch (err) {
      expect(isPoolError(err, 'ARGUMENT_INVALID')).toBe(true)
    }
  })
})

describe('zerosAt', () => {
  it('counts nibbles of all-zero, all-ff and mixed hashes', () => {
    const buf = new Uint8Array(96)
    buf.fill(0xff, 32, 64)
    buf[64 + 3] = 0x0f
    expect(zerosAt(buf, 0)).toBe(64)
    expect(zerosAt(buf, 32)).toBe(0)
    expect(zerosAt(buf, 64)).toBe(7)
  })
})

describe('NonceSearch (mining kernel)', () => {
  it('finds each vector nonce when the target is its own hash (hash == target counts)', () => {
    for (const v of fixture.vectors) {
      const s = new NonceSearch()
      s.setWork(unhex(v.preimage), unhex(v.hash))
      const r = s.search(BigInt(v.nonce), 1)
      expect(r.hashes).toBe(1)
      expect(r.found.map((f) => [f.nonce, hex(f.hash)])).toEqual([[BigInt(v.nonce), v.hash]])
    }
  })

  it('does not find a nonce whose hash is one above the target', () => {
    const v = fixture.vectors[0]!
    const target = (BigInt('0x' + v.hash) - 1n).toString(16).padStart(64, '0')
    const s = new NonceSearch()
    s.setWork(unhex(v.preimage), unhex(target))
    expect(s.search(BigInt(v.nonce), 1).found).toEqual([])
  })

  it('compares past the first 8 bytes: targets equal to the hash on a prefix', () => {
    const v = fixture.vectors[1]!
    const h = BigInt('0x' + v.hash)
    const s = new NonceSearch()
    for (const [delta, hit] of [[1n << 100n, true], [-(1n << 100n), false], [1n << 64n, true], [-(1n << 64n), false], [-1n, false], [0n, true]] as const) {
      s.setWork(unhex(v.preimage), unhex((h + delta).toString(16).padStart(64, '0')))
      expect(s.search(BigInt(v.nonce), 1).found.length).toBe(hit ? 1 : 0)
    }
  })

  it('finds the 8-zero vector among its neighbours at D = 16^8', () => {
    const v = fixture.vectors[0]!
    const s = new NonceSearch()
    s.setWork(unhex(v.preimage), unhex('00000000' + 'f'.repeat(56)))
    const found = searchAll(s, BigInt(v.nonce) - 5000n, 10_000)
    expect(found.get(BigInt(v.nonce))).toBe(v.hash)
    for (const [nonce, h] of found) {
      expect(h.startsWith('00000000')).toBe(true)
      expect(nonce >= BigInt(v.nonce) - 5000n && nonce < BigInt(v.nonce) + 5000n).toBe(true)
    }
  })

  const template = fc.record({
    index: fc.oneof(fc.constantFrom(0, U32_MAX), fc.integer({ min: 0, max: U32_MAX })),
    entropy: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    farmer: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  })
  const start = fc.oneof(
    fc.bigInt({ min: 0n, max: U64_MAX }),
    // carries across every byte boundary of the 8-byte nonce, and the lane boundary at byte 8
    fc.integer({ min: 0, max: 7 }).chain((k) => fc.constant((1n << BigInt(8 * (k + 1))) - 3n)),
    fc.constant(U64_MAX - 10n),
  )

  it('with an all-ff target reports every nonce with the @noble/hashes hash (random templates, carries)', () => {
    const s = new NonceSearch()
    fc.assert(
      fc.property(template, start, fc.integer({ min: 1, max: 24 }), (t, st, count) => {
        const pre = preimage(t.index, 0n, t.entropy, t.farmer)
        s.setWork(pre, ALL_FF)
        const found = searchAll(s, st, count)
        const expected = Math.min(count, Number(U64_MAX - st + 1n))
        if (found.size !== expected) return false
        for (const [nonce, h] of found) {
          setNonce(pre, nonce)
          if (h !== noble(pre)) return false
        }
        return true
      }),
      { numRuns: 150 },
    )
  })

  it('stops at nonce 2^64-1', () => {
    const s = new NonceSearch()
    const pre = preimage(U32_MAX, U64_MAX, new Uint8Array(32).fill(0xff), new Uint8Array(32).fill(0xff))
    s.setWork(pre, ALL_FF)
    const r = s.search(U64_MAX, 10)
    expect(r.hashes).toBe(1)
    expect(r.found.map((f) => f.nonce)).toEqual([U64_MAX])
    expect(hex(r.found[0]!.hash)).toBe(noble(pre))
    expect(s.search(U64_MAX - 1n, 10).hashes).toBe(2)
  })

  it('bounds its output: stops after foundMax finds and reports the hashes done', () => {
    const s = new NonceSearch()
    s.setWork(unhex(fixture.vectors[2]!.preimage), ALL_FF)
    const r = s.search(100n, 1000, 10)
    expect(r.hashes).toBe(10)
    expect(r.found.map((f) => f.nonce)).toEqual(Array.from({ length: 10 }, (_, i) => 100n + BigInt(i)))
    expect(s.search(0n, 1000, 64).found.length).toBe(64)
  })

  it('finds nothing with a zero target and hashes the whole count', () => {
    const s = new NonceSearch()
    s.setWork(unhex(fixture.vectors[2]!.preimage), new Uint8Array(32))
    expect(s.search(0n, 50_000)).toEqual({ hashes: 50_000, found: [] })
    expect(s.search(0n, 0)).toEqual({ hashes: 0, found: [] })
  })

  it('rejects bad arguments', () => {
    const s = new NonceSearch()
    expect(() => s.search(0n, 1)).toThrow(/setWork/)
    expect(() => s.setWork(new Uint8Array(75), ALL_FF)).toThrow(/template must be 76 bytes/)
    expect(() => s.setWork(new Uint8Array(76), new Uint8Array(31))).toThrow(/target must be 32 bytes/)
    s.setWork(new Uint8Array(76), ALL_FF)
    expect(() => s.search(-1n, 1)).toThrow(/start nonce/)
    expect(() => s.search(U64_MAX + 1n, 1)).toThrow(/start nonce/)
    expect(() => s.search(0n, SEARCH_COUNT_MAX + 1)).toThrow(/count must be/)
    expect(() => s.search(0n, -1)).toThrow(/count must be/)
    expect(() => s.search(0n, 1, 0)).toThrow(/foundMax/)
    expect(() => s.search(0n, 1, 65)).toThrow(/foundMax/)
  })
})

describe('kernel generation', () => {
  it('the fully unrolled variant agrees with the looped one', () => {
    setMiddleUnroll(22)
    try {
      const s = new NonceSearch()
      for (const v of fixture.vectors) {
        s.setWork(unhex(v.preimage), ALL_FF)
        expect(hex(s.search(BigInt(v.nonce), 1).found[0]!.hash)).toBe(v.hash)
      }
    } finally {
      setMiddleUnroll(2)
    }
  })

  it('the batch export of a freshly generated module hashes a vector', () => {
    const k = instantiateKernel(compileKernel()) as {
      memory: { buffer: ArrayBuffer }
      hashBatch(i: number, o: number, n: number): void
    }
    const mem = new Uint8Array(k.memory.buffer)
    mem.set(unhex(fixture.vectors[3]!.preimage), MEM.heap)
    k.hashBatch(MEM.heap, MEM.heap + 76, 1)
    expect(hex(mem.subarray(MEM.heap + 76, MEM.heap + 108))).toBe(fixture.vectors[3]!.hash)
  })

  it('lane complementing leaves about one NOT per χ row (24 rounds × 5 rows, plus the first and last)', () => {
    keccakKernelBytes()
    expect(kernelNots()).toBeLessThanOrEqual(24 * 5 + 10)
  })
})
