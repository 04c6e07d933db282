// Stellar strkey decoding (G… accounts, C… contracts, S… seeds) without the SDK,
// so worker threads and the stratum hot path stay light. Format: base32 of
// version byte || payload || crc16-xmodem(version || payload) little-endian.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const DECODE = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i

export const VersionByte = {
  accountId: 6 << 3, // 'G'
  contract: 2 << 3, // 'C'
  seed: 18 << 3, // 'S'
} as const

const STRKEY_CHARS = 56 // 35 bytes of base32

export function crc16xmodem(bytes: Uint8Array): number {
  let crc = 0
  for (const b of bytes) {
    crc ^= b << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

function base32Decode(s: string): Uint8Array | null {
  const out = new Uint8Array(Math.floor((s.length * 5) / 8))
  let bits = 0
  let value = 0
  let j = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const v = c < 128 ? DECODE[c]! : -1
    if (v < 0) return null
    value = (value << 5) | v
    bits += 5
    if (bits >= 8) {
      out[j++] = (value >>> (bits - 8)) & 0xff
      bits -= 8
    }
  }
  // Canonical encodings leave the spare bits zero.
  if (bits > 0 && (value & ((1 << bits) - 1)) !== 0) return null
  return out
}

/** 32-byte payload of a strkey of the given version, or null when invalid (bad chars, length, version or checksum). */
export function decodeStrKey(version: number, key: string): Uint8Array | null {
  if (typeof key !== 'string' || key.length !== STRKEY_CHARS) return null
  const raw = base32Decode(key)
  if (!raw || raw.length !== 35 || raw[0] !== version) return null
  const body = raw.subarray(0, 33)
  const crc = raw[33]! | (raw[34]! << 8)
  if (crc16xmodem(body) !== crc) return null
  return raw.slice(1, 33)
}

export function isAccountId(key: string): boolean {
  return decodeStrKey(VersionByte.accountId, key) !== null
}

/**
 * The 32 bytes KALE hashes for a farmer: the raw ed25519 key of a G-address or the
 * contract id of a C-address. Null when `address` is neither.
 */
export function farmerKeyOf(address: string): Uint8Array | null {
  if (address.startsWith('G')) return decodeStrKey(VersionByte.accountId, address)
  if (address.startsWith('C')) return decodeStrKey(VersionByte.contract, address)
  return null
}
