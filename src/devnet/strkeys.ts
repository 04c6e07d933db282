// StrKey spellings of raw keys, cached. Base32 + CRC16 costs several µs per
// key (encodeCheck/decodeCheck were ~1.5 % of the devnet's profile) and every
// plant spells the same farmer's key 4–6 times (call, auth, footprint ids).
import { xdr, Address, StrKey } from '@stellar/stellar-sdk'

export const SPELLINGS_CACHED_MAX = 100_000

const accounts = new Map<string, string>()
const contracts = new Map<string, string>()

const bytesKey = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1')

function cached(map: Map<string, string>, raw: Uint8Array, spell: (raw: Buffer) => string): string {
  const k = bytesKey(raw)
  let s = map.get(k)
  if (s === undefined) {
    s = spell(Buffer.from(raw))
    if (map.size >= SPELLINGS_CACHED_MAX) map.clear()
    map.set(k, s)
  }
  return s
}

/** G… of a raw Ed25519 public key. */
export const accountStr = (raw: Uint8Array): string => cached(accounts, raw, (b) => StrKey.encodeEd25519PublicKey(b))

/** G…/C… of an ScAddress (others — muxed, balances, pools — through the SDK). */
export function scAddressStr(a: xdr.ScAddress): string {
  if (a.type === 'scAddressTypeAccount' && a.accountId.type === 'publicKeyTypeEd25519') return accountStr(a.accountId.ed25519.toBytes())
  if (a.type === 'scAddressTypeContract') return cached(contracts, a.contractId.toBytes(), (b) => StrKey.encodeContract(b))
  return Address.fromScAddress(a).toString()
}

/** Whether `a` is the contract whose raw id is `contract`. */
export function isContract(a: xdr.ScAddress, contract: Uint8Array): boolean {
  return a.type === 'scAddressTypeContract' && Buffer.from(contract).equals(a.contractId.toBytes())
}
