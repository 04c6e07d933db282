// Devnet state on disk: one JSON file rewritten at each ledger close, written to
// a temp file and renamed so a crash never leaves half a file. Bigints are
// tagged strings ("123n"), byte arrays hex ("0x…"), Maps arrays of pairs.
import fs from 'node:fs'
import path from 'node:path'
import type { LedgerState } from './state.js'

export const STATE_FILE = 'devnet-state.json'
const FORMAT_VERSION = 1

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`
  if (value instanceof Map) return { __map: [...value.entries()] }
  return value
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === 'string') {
    if (/^-?\d+n$/.test(value)) return BigInt(value.slice(0, -1))
    if (/^0x[0-9a-f]*$/.test(value)) return new Uint8Array(Buffer.from(value.slice(2), 'hex'))
  }
  if (value && typeof value === 'object' && '__map' in value) return new Map((value as { __map: Array<[unknown, unknown]> }).__map)
  return value
}

export interface Saved {
  passphrase: string
  state: LedgerState
}

export function serialize(saved: Saved): string {
  return JSON.stringify({ version: FORMAT_VERSION, ...saved }, replacer)
}

export function deserialize(text: string): Saved {
  const raw = JSON.parse(text, reviver) as Saved & { version: number }
  if (raw.version !== FORMAT_VERSION) throw new Error(`devnet state format ${raw.version} is not ${FORMAT_VERSION}`)
  return { passphrase: raw.passphrase, state: raw.state }
}

/** Atomic write: temp file in the same directory, then rename over the old one. */
export function saveState(dir: string, saved: Saved): void {
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, STATE_FILE)
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, serialize(saved))
  fs.renameSync(tmp, file)
}

export function loadState(dir: string): Saved | null {
  const file = path.join(dir, STATE_FILE)
  if (!fs.existsSync(file)) return null
  return deserialize(fs.readFileSync(file, 'utf8'))
}
