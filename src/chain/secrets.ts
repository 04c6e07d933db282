// Farmer secrets at rest: AES-256-GCM under the operator's master key, with the
// farmer's public key as associated data (a ciphertext cannot be moved to another
// farmer). Decrypted only into in-memory signers; never logged, never in errors.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { PoolError, ErrorCode } from '../errors.js'
import { signerFromSeed, type Signer } from './signer.js'

const FORMAT = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32
export const MASTER_KEY_FILENAME = 'master.key'

export interface MasterKeySource {
  kaleNetwork: 'devnet' | 'testnet' | 'mainnet'
  masterKey: string | undefined
  masterKeyFile: string | undefined
  dataDir: string
}

function parseHexKey(text: string, where: string): Buffer {
  const hex = text.trim()
  // The message names where the key came from, never its content.
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new PoolError(ErrorCode.SECRET_UNAVAILABLE, `master key in ${where} must be 64 hex digits`)
  return Buffer.from(hex, 'hex')
}

/**
 * MASTER_KEY, else MASTER_KEY_FILE, else (devnet only) DATA_DIR/master.key,
 * generated with mode 0600 when absent.
 */
export function loadMasterKey(src: MasterKeySource): Buffer {
  if (src.masterKey !== undefined) return parseHexKey(src.masterKey, 'MASTER_KEY')
  if (src.masterKeyFile !== undefined) {
    let text: string
    try {
      text = readFileSync(src.masterKeyFile, 'utf8')
    } catch {
      throw new PoolError(ErrorCode.SECRET_UNAVAILABLE, `MASTER_KEY_FILE ${src.masterKeyFile} cannot be read`)
    }
    return parseHexKey(text, 'MASTER_KEY_FILE')
  }
  if (src.kaleNetwork !== 'devnet') throw new PoolError(ErrorCode.SECRET_UNAVAILABLE, `MASTER_KEY or MASTER_KEY_FILE must be set on ${src.kaleNetwork}`)
  const file = join(src.dataDir, MASTER_KEY_FILENAME)
  if (!existsSync(file)) {
    mkdirSync(src.dataDir, { recursive: true })
    // 'wx': never overwrite a key another process just wrote.
    try {
      writeFileSync(file, randomBytes(KEY_BYTES).toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new PoolError(ErrorCode.SECRET_UNAVAILABLE, `cannot write ${file}`)
    }
    chmodSync(file, 0o600)
  }
  return parseHexKey(readFileSync(file, 'utf8'), file)
}

/** Encrypts a 32-byte seed for `publicKey`: "v1:" + base64(iv ‖ tag ‖ ciphertext). */
export function encryptSeed(masterKey: Buffer, publicKey: string, seed: Uint8Array): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv)
  cipher.setAAD(Buffer.from(publicKey, 'utf8'))
  const ct = Buffer.concat([cipher.update(seed), cipher.final()])
  return `${FORMAT}:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`
}

/** Decrypts straight into a signer and checks that it belongs to `publicKey`. */
export function decryptSigner(masterKey: Buffer, publicKey: string, encrypted: string): Signer {
  const fail = (): never => {
    throw new PoolError(ErrorCode.SECRET_UNAVAILABLE, `secret of farmer ${publicKey} cannot be decrypted (wrong master key or corrupt record)`)
  }
  if (!encrypted.startsWith(`${FORMAT}:`)) return fail()
  const raw = Buffer.from(encrypted.slice(FORMAT.length + 1), 'base64')
  if (raw.length !== IV_BYTES + TAG_BYTES + 32) return fail()
  let seed: Buffer
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, raw.subarray(0, IV_BYTES))
    decipher.setAAD(Buffer.from(publicKey, 'utf8'))
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
    seed = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()])
  } catch {
    return fail()
  }
  const signer = signerFromSeed(seed)
  if (signer.publicKey !== publicKey) return fail()
  return signer
}
