// Ed25519 signing with Node's built-in crypto: ≈ 9× the SDK's JS signer
// (STELLAR.md) and byte-identical signatures. Keys live only as KeyObjects in
// memory; the raw seed is wiped as soon as the KeyObject exists.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { StrKey, type Transaction, type FeeBumpTransaction } from '@stellar/stellar-sdk'

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SEED_BYTES = 32

export interface Signer {
  readonly publicKey: string
  /** 64-byte Ed25519 signature of `data` */
  sign(data: Uint8Array): Buffer
}

class NodeSigner implements Signer {
  constructor(readonly publicKey: string, private readonly key: KeyObject) {}
  sign(data: Uint8Array): Buffer {
    return sign(null, data, this.key)
  }
  // Never let a signer print its key material.
  toJSON(): string {
    return `Signer(${this.publicKey})`
  }
}

/** Builds a signer from a raw 32-byte seed; the caller's buffer is zeroed afterwards. */
export function signerFromSeed(seed: Uint8Array): Signer {
  if (seed.length !== SEED_BYTES) throw new TypeError('seed must be 32 bytes')
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed])
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  der.fill(0)
  seed.fill(0)
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return new NodeSigner(StrKey.encodeEd25519PublicKey(Buffer.from(spki.subarray(spki.length - 32))), key)
}

/** A fresh keypair: the public key and the raw seed (to be encrypted at once). */
export function generateSeed(): { publicKey: string; seed: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const pk8 = privateKey.export({ format: 'der', type: 'pkcs8' })
  const seed = Buffer.from(pk8.subarray(pk8.length - SEED_BYTES))
  pk8.fill(0)
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  return { publicKey: StrKey.encodeEd25519PublicKey(Buffer.from(spki.subarray(spki.length - 32))), seed }
}

/** Adds the signer's signature over the transaction hash to its envelope. */
export function signTx(tx: Transaction | FeeBumpTransaction, signer: Signer): void {
  tx.addSignature(signer.publicKey, signer.sign(tx.hash()).toString('base64'))
}
