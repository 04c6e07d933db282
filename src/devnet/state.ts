// The devnet's ledger state: plain data, no XDR. Accounts (XLM stroops, sequence
// number, subentries), KALE trustlines, the farm contract's instance storage and
// its temporary Block/Pail entries with a liveUntil ledger. `Scratch` is a
// copy-on-write overlay used by one transaction (or one simulation): reads fall
// through to the state, writes stay in the overlay until `commit()`, and every
// key touched is recorded so the footprint can be reported and enforced.

export const BASE_RESERVE_STROOPS = 5_000_000n // 0.5 XLM
export const BASE_FEE_STROOPS = 100n
export const STROOPS_PER_XLM = 10_000_000n
export const LEDGER_SECONDS = 5
export const TEMP_TTL_LEDGERS_DEFAULT = 17_280
export const I128_MAX = (1n << 127n) - 1n
export const I128_MIN = -(1n << 127n)
export const U32_MAX = 0xffff_ffff
export const TRUSTLINE_LIMIT_MAX = (1n << 63n) - 1n

export interface AccountState {
  balance: bigint
  seq: bigint
  subentries: number
  modified: number
}

export interface TrustlineState {
  balance: bigint
  limit: bigint
  modified: number
}

/** The contract's Block struct (FarmBlock in the instance, Block(i) in temporary storage). */
export interface FarmBlock {
  timestamp: bigint
  minGap: number
  maxGap: number
  minStake: bigint
  maxStake: bigint
  minZeros: number
  maxZeros: number
  entropy: Uint8Array
  stakedTotal: bigint
  normalizedTotal: bigint
}

export interface Pail {
  sequence: number
  gap: number | null
  stake: bigint
  zeros: number | null
}

export interface Temp<T> {
  value: T
  liveUntil: number
  modified: number
}

export interface Instance {
  farmIndex: number
  farmBlock: FarmBlock | null
  paused: boolean
  modified: number
}

export interface LedgerState {
  /** last closed ledger */
  sequence: number
  /** its close time, unix seconds */
  closeTime: number
  accounts: Map<string, AccountState>
  trustlines: Map<string, TrustlineState>
  instance: Instance
  blocks: Map<number, Temp<FarmBlock>>
  /** key `${farmer}:${index}` */
  pails: Map<string, Temp<Pail>>
  /** address-credential nonces already used: `${address}:${nonce}` → expiration ledger */
  authNonces: Map<string, number>
  feePool: bigint
}

export const pailKey = (farmer: string, index: number): string => `${farmer}:${index}`

export function cloneBlock(b: FarmBlock): FarmBlock {
  return { ...b, entropy: b.entropy.slice() }
}

/** The contract's new_farm_block: sentinels that the first plant/work replaces. */
export function newFarmBlock(timestamp: bigint): FarmBlock {
  return {
    timestamp,
    minGap: U32_MAX,
    maxGap: 0,
    minStake: I128_MAX,
    maxStake: I128_MIN,
    minZeros: U32_MAX,
    maxZeros: 0,
    entropy: new Uint8Array(32),
    stakedTotal: 0n,
    normalizedTotal: 0n,
  }
}

export function isLive<T>(t: Temp<T> | undefined, ledger: number): t is Temp<T> {
  return t !== undefined && t.liveUntil >= ledger
}

/** Key ids: 'i' instance, 'b:N' Block, 'p:G…:N' Pail, 't:G…' trustline, 'a:G…' account. */
export type KeyId = string

export class Scratch {
  instance: Instance
  readonly blocks = new Map<number, Temp<FarmBlock> | null>()
  readonly pails = new Map<string, Temp<Pail> | null>()
  readonly trust = new Map<string, TrustlineState | null>()
  readonly accounts = new Map<string, AccountState>()
  readonly reads = new Set<KeyId>()
  readonly writes = new Set<KeyId>()
  private instanceWritten = false

  constructor(
    readonly state: LedgerState,
    /** sequence of the ledger this runs in */
    readonly ledger: number,
    /** its timestamp, unix seconds */
    readonly time: bigint,
    readonly tempTtlLedgers: number,
  ) {
    const inst = state.instance
    this.instance = { ...inst, farmBlock: inst.farmBlock ? cloneBlock(inst.farmBlock) : null }
  }

  readInstance(): Instance {
    this.reads.add('i')
    return this.instance
  }

  writeInstance(): void {
    this.writes.add('i')
    this.instanceWritten = true
  }

  getBlock(index: number): FarmBlock | undefined {
    this.reads.add(`b:${index}`)
    if (this.blocks.has(index)) return this.blocks.get(index)?.value
    const t = this.state.blocks.get(index)
    if (!isLive(t, this.ledger)) return undefined
    const copy = { ...t, value: cloneBlock(t.value) }
    this.blocks.set(index, copy)
    return copy.value
  }

  setBlock(index: number, value: FarmBlock): void {
    this.writes.add(`b:${index}`)
    const prev = this.blocks.get(index) ?? this.state.blocks.get(index)
    const liveUntil = prev && prev.liveUntil >= this.ledger ? prev.liveUntil : this.ledger + this.tempTtlLedgers - 1
    this.blocks.set(index, { value, liveUntil, modified: this.ledger })
  }

  getPail(farmer: string, index: number): Pail | undefined {
    const k = pailKey(farmer, index)
    this.reads.add(`p:${k}`)
    if (this.pails.has(k)) return this.pails.get(k)?.value
    const t = this.state.pails.get(k)
    return isLive(t, this.ledger) ? { ...t.value } : undefined
  }

  setPail(farmer: string, index: number, value: Pail): void {
    const k = pailKey(farmer, index)
    this.writes.add(`p:${k}`)
    const prev = this.pails.get(k) ?? this.state.pails.get(k)
    const liveUntil = prev && prev.liveUntil >= this.ledger ? prev.liveUntil : this.ledger + this.tempTtlLedgers - 1
    this.pails.set(k, { value, liveUntil, modified: this.ledger })
  }

  removePail(farmer: string, index: number): void {
    const k = pailKey(farmer, index)
    this.writes.add(`p:${k}`)
    this.pails.set(k, null)
  }

  getAccount(id: string): AccountState | undefined {
    const own = this.accounts.get(id)
    if (own) return own
    const a = this.state.accounts.get(id)
    if (!a) return undefined
    const copy = { ...a }
    this.accounts.set(id, copy)
    return copy
  }

  /** Creates or replaces an account; edit the object getAccount returns for updates. */
  putAccount(id: string, a: AccountState): void {
    this.accounts.set(id, a)
  }

  getTrust(account: string): TrustlineState | undefined {
    this.reads.add(`t:${account}`)
    if (this.trust.has(account)) return this.trust.get(account) ?? undefined
    const t = this.state.trustlines.get(account)
    if (!t) return undefined
    const copy = { ...t }
    this.trust.set(account, copy)
    return copy
  }

  setTrust(account: string, t: TrustlineState): void {
    this.writes.add(`t:${account}`)
    this.trust.set(account, { ...t, modified: this.ledger })
  }

  removeTrust(account: string): void {
    this.writes.add(`t:${account}`)
    this.trust.set(account, null)
  }

  commit(): void {
    const s = this.state
    if (this.instanceWritten) s.instance = { ...this.instance, modified: this.ledger }
    for (const [i, t] of this.blocks) if (t && this.writes.has(`b:${i}`)) s.blocks.set(i, t)
    for (const [k, t] of this.pails) {
      if (!this.writes.has(`p:${k}`)) continue
      if (t) s.pails.set(k, t)
      else s.pails.delete(k)
    }
    for (const [a, t] of this.trust) {
      if (!this.writes.has(`t:${a}`)) continue
      if (t) s.trustlines.set(a, t)
      else s.trustlines.delete(a)
    }
    for (const [id, a] of this.accounts) s.accounts.set(id, { ...a, modified: this.ledger })
  }
}

/** Drops temporary entries whose TTL ended before `ledger` and stale auth nonces. */
export function evictExpired(state: LedgerState, ledger: number): void {
  for (const [i, t] of state.blocks) if (t.liveUntil < ledger) state.blocks.delete(i)
  for (const [k, t] of state.pails) if (t.liveUntil < ledger) state.pails.delete(k)
  for (const [k, until] of state.authNonces) if (until < ledger) state.authNonces.delete(k)
}

/** Minimum XLM balance of an account with `subentries`: (2 + n) × 0.5 XLM. */
export function minBalance(subentries: number): bigint {
  return (2n + BigInt(subentries)) * BASE_RESERVE_STROOPS
}
