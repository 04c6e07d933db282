import { describe, it, expect } from 'vitest'
import { mkdtempSync, statSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Keypair, TransactionBuilder, Account, Operation, Asset, StrKey } from '@stellar/stellar-sdk'
import { encryptSeed, decryptSigner, loadMasterKey, MASTER_KEY_FILENAME } from '../../src/chain/secrets.js'
import { generateSeed, signerFromSeed, signTx } from '../../src/chain/signer.js'
import { PoolError, ErrorCode } from '../../src/errors.js'

const PASS = 'Test SDF Network ; September 2015'

describe('Node Ed25519 signer', () => {
  it('gives the same signature as the SDK signer', () => {
    const kp = Keypair.random()
    const signer = signerFromSeed(Uint8Array.from(kp.rawSecretKey()))
    expect(signer.publicKey).toBe(kp.publicKey())
    const data = randomBytes(32)
    expect(Buffer.from(signer.sign(data)).equals(Buffer.from(kp.sign(data)))).toBe(true)
    const tx = new TransactionBuilder(new Account(kp.publicKey(), '1'), { fee: '100', networkPassphrase: PASS })
      .addOperation(Operation.changeTrust({ asset: new Asset('KALE', Keypair.random().publicKey()) })).setTimeout(30).build()
    const twin = TransactionBuilder.fromXDR(tx.toXDR(), PASS)
    signTx(tx, signer)
    twin.sign(kp)
    expect(tx.signatures.length).toBe(1)
    expect(tx.signatures[0]!.toXDR('base64')).toBe(twin.signatures[0]!.toXDR('base64'))
  })
  it('wipes the seed buffer it was given and never serialises key material', () => {
    const { publicKey, seed } = generateSeed()
    const copy = Buffer.from(seed)
    const signer = signerFromSeed(seed)
    expect(seed.every((b) => b === 0)).toBe(true)
    expect(signer.publicKey).toBe(publicKey)
    expect(JSON.stringify({ signer })).not.toContain(StrKey.encodeEd25519SecretSeed(copy))
    expect(JSON.stringify({ signer })).toContain(publicKey)
  })
  it('rejects a seed of the wrong length', () => {
    expect(() => signerFromSeed(new Uint8Array(31))).toThrow(TypeError)
  })
})

describe('secrets at rest', () => {
  const master = randomBytes(32)
  it('round-trips a seed and binds it to its farmer', () => {
    const { publicKey, seed } = generateSeed()
    const secret = StrKey.encodeEd25519SecretSeed(seed)
    const enc = encryptSeed(master, publicKey, seed)
    expect(enc.startsWith('v1:')).toBe(true)
    expect(enc).not.toContain(secret)
    expect(enc).not.toContain(Buffer.from(seed).toString('base64'))
    expect(decryptSigner(master, publicKey, enc).publicKey).toBe(publicKey)
    // the same seed encrypts differently every time (random IV)
    expect(encryptSeed(master, publicKey, seed)).not.toBe(enc)
  })
  it('fails with SECRET_UNAVAILABLE, without secrets in the message, on a wrong key, another farmer, or tampering', () => {
    const { publicKey, seed } = generateSeed()
    const secret = StrKey.encodeEd25519SecretSeed(seed)
    const enc = encryptSeed(master, publicKey, seed)
    const other = generateSeed().publicKey
    const raw = Buffer.from(enc.slice(3), 'base64')
    raw[raw.length - 1]! ^= 1
    const cases: Array<() => unknown> = [
      () => decryptSigner(randomBytes(32), publicKey, enc),
      () => decryptSigner(master, other, enc),
      () => decryptSigner(master, publicKey, `v1:${raw.toString('base64')}`),
      () => decryptSigner(master, publicKey, 'v2:abc'),
      () => decryptSigner(master, publicKey, 'v1:'),
      () => decryptSigner(master, publicKey, `v1:${'A'.repeat(10_000)}`),
    ]
    for (const c of cases) {
      try {
        c()
        throw new Error('expected a failure')
      } catch (e) {
        expect(e).toBeInstanceOf(PoolError)
        expect((e as PoolError).code).toBe(ErrorCode.SECRET_UNAVAILABLE)
        expect((e as Error).message).not.toContain(secret)
        expect((e as Error).message).not.toContain(master.toString('hex'))
      }
    }
  })
})

describe('loadMasterKey', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'kale-mk-'))
  it('generates DATA_DIR/master.key with mode 0600 on devnet and reuses it', () => {
    const d = dir()
    const a = loadMasterKey({ kaleNetwork: 'devnet', masterKey: undefined, masterKeyFile: undefined, dataDir: d })
    const file = join(d, MASTER_KEY_FILENAME)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(a.length).toBe(32)
    const b = loadMasterKey({ kaleNetwork: 'devnet', masterKey: undefined, masterKeyFile: undefined, dataDir: d })
    expect(b.equals(a)).toBe(true)
  })
  it('prefers MASTER_KEY, then MASTER_KEY_FILE', () => {
    const hex = randomBytes(32).toString('hex')
    expect(loadMasterKey({ kaleNetwork: 'mainnet', masterKey: hex, masterKeyFile: undefined, dataDir: '/nonexistent' }).toString('hex')).toBe(hex)
    const d = dir()
    const f = join(d, 'k')
    writeFileSync(f, `${hex}\n`)
    expect(loadMasterKey({ kaleNetwork: 'testnet', masterKey: undefined, masterKeyFile: f, dataDir: d }).toString('hex')).toBe(hex)
  })
  it('refuses to invent a key off devnet, and rejects malformed or unreadable keys without echoing them', () => {
    expect(() => loadMasterKey({ kaleNetwork: 'mainnet', masterKey: undefined, masterKeyFile: undefined, dataDir: dir() })).toThrow(/MASTER_KEY or MASTER_KEY_FILE/)
    const d = dir()
    const f = join(d, 'bad')
    writeFileSync(f, 'zz-not-a-key-secretish')
    try {
      loadMasterKey({ kaleNetwork: 'testnet', masterKey: undefined, masterKeyFile: f, dataDir: d })
      throw new Error('expected failure')
    } catch (e) {
      expect((e as PoolError).code).toBe(ErrorCode.SECRET_UNAVAILABLE)
      expect((e as Error).message).not.toContain('secretish')
    }
    expect(() => loadMasterKey({ kaleNetwork: 'testnet', masterKey: undefined, masterKeyFile: join(d, 'missing'), dataDir: d })).toThrow(/cannot be read/)
    expect(() => loadMasterKey({ kaleNetwork: 'testnet', masterKey: 'abc', masterKeyFile: undefined, dataDir: d })).toThrow(/64 hex digits/)
    expect(readFileSync(f, 'utf8')).toBe('zz-not-a-key-secretish')
  })
})
