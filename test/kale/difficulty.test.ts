import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  zeros, targetOf, meetsTarget, compareHashes, targetBytes, belowOrEqual, hashToBigInt, difficultyOf, difficultyForZeros, HASH_MAX,
} from '../../src/kale/index.js'

const bytesOf = (n: bigint): Uint8Array => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'))

describe('zeros', () => {
  it('counts leading zero nibbles', () => {
    expect(zeros(new Uint8Array(32))).toBe(64)
    expect(zeros(new Uint8Array(32).fill(0xff))).toBe(0)
    expect(zeros(Uint8Array.from([0x00, 0x0f, 0xff]))).toBe(3)
    expect(zeros(Uint8Array.from([0x00, 0x00, 0x10]))).toBe(4)
    expect(zeros(Uint8Array.from([0x01]))).toBe(1)
    expect(zeros(new Uint8Array(0))).toBe(0)
  })

  it('equals the hex string’s leading zeros on random hashes', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (h) => {
      const hex = Buffer.from(h).toString('hex')
      return zeros(h) === hex.length - hex.replace(/^0+/, '').length
    }))
  })
})

describe('targetOf', () => {
  it('D = 1 is the whole range, D = 2 is half of it', () => {
    expect(targetOf(1)).toBe(HASH_MAX)
    expect(targetOf(2)).toBe(HASH_MAX / 2n)
  })

  it('is exact for powers of two up to 2^64 and beyond 2^53', () => {
    for (const e of [1, 10, 32, 52, 53, 54, 63, 64]) expect(targetOf(2 ** e)).toBe(HASH_MAX / (1n << BigInt(e)))
    expect(targetOf(2 ** 64)).toBe((1n << 192n) - 1n)
  })

  it('is exact for fractional D (1.5, 1000.25) against bigint rational math', () => {
    expect(targetOf(1.5)).toBe((HASH_MAX * 2n) / 3n)
    expect(targetOf(1000.25)).toBe((HASH_MAX * 4n) / 4001n)
    expect(targetOf(65536.125)).toBe((HASH_MAX * 8n) / 524289n)
  })

  it('matches floor(MAX·den/num) for random D = num/2^k', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 0, max: 12 }), (num, k) => {
      const d = num / 2 ** k
      fc.pre(d >= 1)
      return targetOf(d) === (HASH_MAX << BigInt(k)) / BigInt(num)
    }))
  })

  it('D = 16^z targets z zero nibbles', () => {
    expect(difficultyForZeros(8)).toBe(2 ** 32)
    expect(targetOf(difficultyForZeros(8))).toBe((1n << 224n) - 1n)
  })

  it('rejects D < 1, NaN and infinities', () => {
    for (const d of [0, 0.999, -1, NaN, Infinity, -Infinity]) expect(() => targetOf(d)).toThrow(/difficulty must be a finite number >= 1/)
    expect(() => targetOf('2' as unknown as number)).toThrow(/difficulty/)
  })

  it('difficultyOf inverts it', () => {
    expect(difficultyOf(targetOf(1))).toBe(1)
    expect(difficultyOf(targetOf(65536))).toBeCloseTo(65536, 6)
    expect(() => difficultyOf(0n)).toThrow(/target must be > 0/)
  })
})

describe('meetsTarget and hash comparison', () => {
  it('accepts hash == target and rejects target + 1, for several D', () => {
    for (const d of [1.5, 1000.25, 256, 2 ** 53, 2 ** 64]) {
      const t = targetOf(d)
      expect(meetsTarget(bytesOf(t), d)).toBe(true)
      expect(meetsTarget(bytesOf(t + 1n), d)).toBe(false)
      expect(meetsTarget(bytesOf(0n), d)).toBe(true)
    }
  })

  it('D = 1 accepts even the all-ff hash; the all-zero hash meets any D', () => {
    expect(meetsTarget(new Uint8Array(32).fill(0xff), 1)).toBe(true)
    expect(meetsTarget(new Uint8Array(32).fill(0xff), 1.0000001)).toBe(false)
    expect(meetsTarget(new Uint8Array(32), 2 ** 64)).toBe(true)
  })

  it('targetBytes/belowOrEqual agree with meetsTarget on random hashes', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.double({ min: 1, max: 2 ** 20, noNaN: true }), (h, d) => {
      return belowOrEqual(h, targetBytes(d)) === meetsTarget(h, d) && hashToBigInt(targetBytes(d)) === targetOf(d)
    }))
  })

  it('compareHashes orders as big-endian integers', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
      const c = compareHashes(a, b)
      const x = hashToBigInt(a)
      const y = hashToBigInt(b)
      return Math.sign(c) === (x < y ? -1 : x > y ? 1 : 0)
    }))
    expect(compareHashes(Uint8Array.from([1, 2]), Uint8Array.from([1, 2, 0]))).toBeLessThan(0)
    expect(hashToBigInt(new Uint8Array(0))).toBe(0n)
  })
})
