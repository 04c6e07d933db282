import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { preimage, setNonce, farmerKeyBytes, U32_MAX, U64_MAX, PREIMAGE_BYTES, keccak256 } from '../../src/kale/index.js'

const fixture = JSON.parse(readFileSync(new URL('../fixtures/kale-hash.json', import.meta.url), 'utf8')) as {
  vectors: { index: number; nonce: string; entropy: string; farmer: string; farmerKey: string; preimage: string; hash: string }[]
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const E = new Uint8Array(32)
const K = new Uint8Array(32).fill(0xab)

describe('preimage', () => {
  it('builds every vector from the address and from the raw farmer key', () => {
    for (const v of fixture.vectors) {
      expect(hex(preimage(v.index, BigInt(v.nonce), unhex(v.entropy), v.farmer))).toBe(v.preimage)
      expect(hex(preimage(v.index, BigInt(v.nonce), unhex(v.entropy), unhex(v.farmerKey)))).toBe(v.preimage)
    }
  })

  it('lays out u32be index, u64be nonce, entropy, farmer key at the edges', () => {
    const p = preimage(U32_MAX, U64_MAX, new Uint8Array(32).fill(0x11), K)
    expect(p.length).toBe(PREIMAGE_BYTES)
    expect(hex(p.subarray(0, 12))).toBe('ff'.repeat(12))
    expect(hex(p.subarray(12, 44))).toBe('11'.repeat(32))
    expect(hex(p.subarray(44))).toBe('ab'.repeat(32))
    const z = preimage(0, 0n, E, K)
    expect(hex(z.subarray(0, 12))).toBe('00'.repeat(12))
    expect(hex(preimage(1, 0x0102030405060708n, E, K).subarray(0, 12))).toBe('000000010102030405060708')
  })

  it('setNonce rewrites only bytes 4..11, also in a subarray', () => {
    const v = fixture.vectors[1]!
    const buf = new Uint8Array(100)
    buf.set(preimage(v.index, 0n, unhex(v.entropy), v.farmer), 10)
    const pre = buf.subarray(10, 86)
    setNonce(pre, BigInt(v.nonce))
    expect(hex(pre)).toBe(v.preimage)
    expect(hex(keccak256(pre))).toBe(v.hash)
    expect(buf[9]).toBe(0)
    expect(buf[86]).toBe(0)
  })

  it('rejects bad index, nonce, entropy and farmer with messages naming them', () => {
    expect(() => preimage(-1, 0n, E, K)).toThrow(/index must be an integer 0..4294967295/)
    expect(() => preimage(U32_MAX + 1, 0n, E, K)).toThrow(/index/)
    expect(() => preimage(1.5, 0n, E, K)).toThrow(/index/)
    expect(() => preimage(NaN, 0n, E, K)).toThrow(/index/)
    expect(() => preimage(0, -1n, E, K)).toThrow(/nonce must be an integer 0..2\^64-1/)
    expect(() => preimage(0, U64_MAX + 1n, E, K)).toThrow(/nonce/)
    expect(() => preimage(0, 5 as unknown as bigint, E, K)).toThrow(/nonce/)
    expect(() => preimage(0, 0n, new Uint8Array(31), K)).toThrow(/entropy must be 32 bytes/)
    expect(() => preimage(0, 0n, E, new Uint8Array(33))).toThrow(/farmer key must be 32 bytes/)
    expect(() => preimage(0, 0n, E, 'GNOTANADDRESS')).toThrow(/farmer must be a valid G- or C-address/)
    expect(() => farmerKeyBytes('S' + fixture.vectors[0]!.farmer.slice(1))).toThrow(/farmer/)
  })
})
