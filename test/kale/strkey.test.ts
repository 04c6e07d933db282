import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { StrKey } from '@stellar/stellar-sdk'
import { readFileSync } from 'node:fs'
import { decodeStrKey, farmerKeyOf, isAccountId, crc16xmodem, VersionByte } from '../../src/kale/index.js'

const fixture = JSON.parse(readFileSync(new URL('../fixtures/kale-hash.json', import.meta.url), 'utf8')) as {
  vectors: { farmer: string; farmerKey: string }[]
}
const hex = (b: Uint8Array | null): string | null => (b ? Buffer.from(b).toString('hex') : null)
const G = fixture.vectors[0]!.farmer
const C = fixture.vectors[3]!.farmer

/** Replaces character i with another base32 character. */
function mutate(key: string, i: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  const c = alphabet[(alphabet.indexOf(key[i]!) + 1) % 32]!
  return key.slice(0, i) + c + key.slice(i + 1)
}

describe('strkey', () => {
  it('decodes the vectors’ G- and C-address farmers', () => {
    for (const v of fixture.vectors) expect(hex(farmerKeyOf(v.farmer))).toBe(v.farmerKey)
  })

  it('agrees with the Stellar SDK on random keys', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (k) => {
      const g = StrKey.encodeEd25519PublicKey(Buffer.from(k))
      const c = StrKey.encodeContract(Buffer.from(k))
      return hex(farmerKeyOf(g)) === hex(k) && hex(farmerKeyOf(c)) === hex(k) && isAccountId(g) && !isAccountId(c)
    }), { numRuns: 50 })
  })

  it('rejects a checksum failure at every position of a G-address', () => {
    for (let i = 1; i < G.length; i++) expect(isAccountId(mutate(G, i))).toBe(false)
  })

  it('rejects a corrupted checksum of a C-address', () => {
    expect(farmerKeyOf(mutate(C, 53))).toBeNull()
    expect(farmerKeyOf(mutate(C, 20))).toBeNull()
  })

  it('rejects wrong versions, lengths, characters and prefixes', () => {
    expect(decodeStrKey(VersionByte.contract, G)).toBeNull()
    expect(decodeStrKey(VersionByte.accountId, C)).toBeNull()
    expect(isAccountId(G.slice(0, 55))).toBe(false)
    expect(isAccountId(G + 'A')).toBe(false)
    expect(isAccountId(G.toLowerCase())).toBe(false)
    expect(isAccountId(G.slice(0, 10) + '1' + G.slice(11))).toBe(false)
    expect(isAccountId(G.slice(0, 10) + 'é' + G.slice(11))).toBe(false)
    expect(isAccountId('')).toBe(false)
    expect(isAccountId(42 as unknown as string)).toBe(false)
    expect(farmerKeyOf('S' + G.slice(1))).toBeNull()
    expect(farmerKeyOf('M' + G.slice(1))).toBeNull()
    // a seed (S…) is never accepted as a farmer
    const seed = StrKey.encodeEd25519SecretSeed(Buffer.alloc(32, 7))
    expect(farmerKeyOf(seed)).toBeNull()
    expect(hex(decodeStrKey(VersionByte.seed, seed))).toBe('07'.repeat(32))
  })

  it('rejects a one-bit change in the last character (the checksum’s low bits)', () => {
    const last = G[55]!
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
    const v = alphabet.indexOf(last)
    const alt = alphabet[v ^ 1]!
    expect(isAccountId(G.slice(0, 55) + alt)).toBe(false)
  })

  it('crc16-xmodem of "123456789" is 0x31c3', () => {
    expect(crc16xmodem(Buffer.from('123456789'))).toBe(0x31c3)
  })
})
