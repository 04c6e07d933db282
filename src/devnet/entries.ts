// getLedgerEntries' read side with two caches: the key id of each base64
// LedgerKey asked (decoding a key and spelling its StrKeys ≈ 30 µs), and the
// base64 entry XDR per key id, reused while the entry's content stamp is
// unchanged (building and encoding the instance's ScMap cost ≈ 100–300 µs, a
// pail ≈ 100 µs). The pool asks for the instance every ledger and for every
// farmer's pail and trustline every block.
import { xdr } from '@stellar/stellar-sdk'
import type { ChainCtx } from './tx-apply.js'
import type { FarmBlock, KeyId } from './state.js'

export const KEYS_CACHED_MAX = 50_000
export const ENTRIES_CACHED_MAX = 50_000
/** liveUntil reported for the (persistent) instance, in ledgers past the latest */
const INSTANCE_TTL_LEDGERS = 3_000_000

export interface EntryJson {
  key: string
  xdr: string
  lastModifiedLedgerSeq: number
  liveUntilLedgerSeq?: number
}

interface Found {
  /** every value the entry's XDR depends on besides its key id */
  stamp: string
  build: () => xdr.LedgerEntryData
  modified: number
  liveUntil?: number
}

const blockStamp = (b: FarmBlock): string =>
  `${b.timestamp}:${b.minGap}:${b.maxGap}:${b.minStake}:${b.maxStake}:${b.minZeros}:${b.maxZeros}:${b.stakedTotal}:${b.normalizedTotal}:${Buffer.from(b.entropy).toString('hex')}`

export class EntryReader {
  private readonly keyIds = new Map<string, KeyId | null>()
  private readonly encoded = new Map<KeyId, { stamp: string; xdr: string }>()

  constructor(
    private readonly ctx: ChainCtx,
    private readonly homesteader: string,
  ) {}

  /** The entries of the keys the devnet holds, in the order asked; throws on a malformed key. */
  read(keysB64: readonly string[]): EntryJson[] {
    const out: EntryJson[] = []
    for (const k of keysB64) {
      const id = this.keyIdOf(k)
      if (id === null) continue
      const e = this.find(id)
      if (!e) continue
      out.push({ key: k, xdr: this.xdrOf(id, e), lastModifiedLedgerSeq: e.modified, ...(e.liveUntil !== undefined ? { liveUntilLedgerSeq: e.liveUntil } : {}) })
    }
    return out
  }

  private keyIdOf(k: string): KeyId | null {
    const hit = this.keyIds.get(k)
    if (hit !== undefined) return hit
    const id = this.ctx.b.keyId(xdr.LedgerKey.fromXdr(k, 'base64'))
    if (this.keyIds.size >= KEYS_CACHED_MAX) this.keyIds.clear()
    this.keyIds.set(k, id)
    return id
  }

  private xdrOf(id: KeyId, e: Found): string {
    const hit = this.encoded.get(id)
    if (hit && hit.stamp === e.stamp) return hit.xdr
    const b64 = e.build().toXdr('base64')
    if (this.encoded.size >= ENTRIES_CACHED_MAX) this.encoded.clear()
    this.encoded.set(id, { stamp: e.stamp, xdr: b64 })
    return b64
  }

  private find(id: KeyId): Found | null {
    const st = this.ctx.state
    const b = this.ctx.b
    const [kind, a, c] = id.split(':')
    if (kind === 'a') {
      const acc = st.accounts.get(a!)
      return acc ? { stamp: `${acc.balance}:${acc.seq}:${acc.subentries}`, build: () => b.accountEntry(a!, acc), modified: acc.modified } : null
    }
    if (kind === 't') {
      const t = st.trustlines.get(a!)
      return t ? { stamp: `${t.balance}:${t.limit}`, build: () => b.trustlineEntry(a!, t), modified: t.modified } : null
    }
    if (kind === 'i') {
      const inst = st.instance
      const stamp = `${inst.farmIndex}:${inst.paused}:${inst.farmBlock ? blockStamp(inst.farmBlock) : '-'}`
      return { stamp, build: () => b.instanceEntry(inst, this.homesteader), modified: inst.modified, liveUntil: st.sequence + INSTANCE_TTL_LEDGERS }
    }
    if (kind === 'b') {
      const t = st.blocks.get(Number(a))
      return t && t.liveUntil >= st.sequence ? { stamp: blockStamp(t.value), build: () => b.blockEntry(Number(a), t.value), modified: t.modified, liveUntil: t.liveUntil } : null
    }
    const t = st.pails.get(`${a}:${c}`)
    if (!t || t.liveUntil < st.sequence) return null
    const p = t.value
    return { stamp: `${p.sequence}:${p.gap}:${p.stake}:${p.zeros}`, build: () => b.pailEntry(a!, Number(c), p), modified: t.modified, liveUntil: t.liveUntil }
  }
}
