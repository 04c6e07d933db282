// keccak256 (original Keccak padding, NOT NIST SHA3-256). This module is the one
// entry point for the rest of the project; the fastest measured implementation
// sits behind it (see bench/hash.ts).
import { keccak_256 } from '@noble/hashes/sha3.js'

export function keccak256(data: Uint8Array): Uint8Array {
  return keccak_256(data)
}
