// The KALE contract's storage as ledger keys and decoded values (KALE.md:
// instance storage, temporary Block(index) and Pail(farmer, index)), plus the
// three invocations. No I/O here: callers batch the keys into getLedgerEntries.
import { Address, Asset, Contract, Keypair, nativeToScVal, scValToNative, xdr } from '@stellar/stellar-sdk'
import type { BlockStats } from '../events.js'
import { splitAsset } from './network.js'

export interface BlockData {
  timestamp: number
  stats: BlockStats
  entropy: Uint8Array
  stakedTotal: bigint
  normalizedTotal: bigint
}

export interface InstanceState {
  farmIndex: number
  farmBlock: BlockData | undefined
  paused: boolean
}

export interface PailData {
  sequence: number
  gap: number | null
  stake: bigint
  zeros: number | null
}

/** One ledger entry as getLedgerEntries returns it (SDK 17 shape). */
export interface EntryLike {
  key: xdr.LedgerKey
  val: xdr.LedgerEntryData
  liveUntilLedgerSeq?: number | undefined
}

export function instanceKey(contractId: string): xdr.LedgerKey {
  return new Contract(contractId).getFootprint()
}

function temporaryKey(contractId: string, key: xdr.ScVal): xdr.LedgerKey {
  return xdr.LedgerKey.contractData(
    new xdr.LedgerKeyContractData({ contract: new Address(contractId).toScAddress(), key, durability: xdr.ContractDataDurability.temporary }),
  )
}

export function blockKey(contractId: string, index: number): xdr.LedgerKey {
  return temporaryKey(contractId, xdr.ScVal.scvVec([xdr.ScVal.scvSymbol('Block'), xdr.ScVal.scvU32(index)]))
}

export function pailKey(contractId: string, farmer: string, index: number): xdr.LedgerKey {
  return temporaryKey(contractId, xdr.ScVal.scvVec([xdr.ScVal.scvSymbol('Pail'), new Address(farmer).toScVal(), xdr.ScVal.scvU32(index)]))
}

export function accountKey(publicKey: string): xdr.LedgerKey {
  return xdr.LedgerKey.account(new xdr.LedgerKeyAccount({ accountId: Keypair.fromPublicKey(publicKey).xdrPublicKey() }))
}

export function trustlineKey(publicKey: string, asset: string): xdr.LedgerKey {
  const [code, issuer] = splitAsset(asset)
  return xdr.LedgerKey.trustline(
    new xdr.LedgerKeyTrustLine({ accountId: Keypair.fromPublicKey(publicKey).xdrPublicKey(), asset: new Asset(code, issuer).toTrustLineXDRObject() }),
  )
}

/** Map key used to match entries of a getLedgerEntries answer to the keys asked. */
export function keyId(key: xdr.LedgerKey): string {
  return key.toXDR('base64')
}

export function entriesById(entries: readonly EntryLike[]): Map<string, EntryLike> {
  const m = new Map<string, EntryLike>()
  for (const e of entries) m.set(keyId(e.key), e)
  return m
}

const big = (v: unknown): bigint => {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
  throw new TypeError('expected an integer')
}
const u32 = (v: unknown): number => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v
  if (typeof v === 'bigint' && v >= 0n && v <= 0xffffffffn) return Number(v)
  throw new TypeError('expected a u32')
}

/** Decodes a Block struct (ScMap) — throws TypeError when it is not one. */
export function decodeBlock(val: xdr.ScVal): BlockData {
  const o = scValToNative(val) as Record<string, unknown>
  if (typeof o !== 'object' || o === null) throw new TypeError('Block is not a map')
  const entropy = o.entropy
  if (!(entropy instanceof Uint8Array) || entropy.length !== 32) throw new TypeError('Block.entropy is not 32 bytes')
  return {
    timestamp: Number(big(o.timestamp)),
    stats: {
      minGap: big(o.min_gap), maxGap: big(o.max_gap),
      minStake: big(o.min_stake), maxStake: big(o.max_stake),
      minZeros: big(o.min_zeros), maxZeros: big(o.max_zeros),
    },
    entropy: Uint8Array.from(entropy),
    stakedTotal: big(o.staked_total),
    normalizedTotal: big(o.normalized_total),
  }
}

export function decodePail(val: xdr.ScVal): PailData {
  const o = scValToNative(val) as Record<string, unknown>
  if (typeof o !== 'object' || o === null) throw new TypeError('Pail is not a map')
  return {
    sequence: u32(o.sequence),
    gap: o.gap === null || o.gap === undefined ? null : u32(o.gap),
    stake: big(o.stake),
    zeros: o.zeros === null || o.zeros === undefined ? null : u32(o.zeros),
  }
}

/** Value of a contract-data entry. */
export function contractDataValue(data: xdr.LedgerEntryData): xdr.ScVal {
  if (data.type !== 'contractData') throw new TypeError('not a contract data entry')
  return data.contractData.val
}

/** Decodes the instance entry's storage: FarmIndex (absent = 0), FarmBlock, FarmPaused. */
export function decodeInstance(data: xdr.LedgerEntryData): InstanceState {
  const val = contractDataValue(data)
  if (val.type !== 'scvContractInstance') throw new TypeError('not a contract instance')
  const storage = val.instance.storage ?? []
  let farmIndex = 0
  let farmBlock: BlockData | undefined
  let paused = false
  for (const entry of storage) {
    const k = entry.key
    if (k.type !== 'scvVec') continue
    const name = k.vec?.[0]
    if (!name || name.type !== 'scvSymbol') continue
    const sym = name.sym.toString()
    if (sym === 'FarmIndex') farmIndex = u32(scValToNative(entry.val))
    else if (sym === 'FarmBlock') farmBlock = decodeBlock(entry.val)
    else if (sym === 'FarmPaused') paused = scValToNative(entry.val) === true
  }
  return { farmIndex, farmBlock, paused }
}

/** Account entry → sequence number and native balance (stroops). */
export function decodeAccount(data: xdr.LedgerEntryData): { seq: bigint; balance: bigint } {
  if (data.type !== 'account') throw new TypeError('not an account entry')
  return { seq: BigInt(data.account.seqNum), balance: BigInt(data.account.balance) }
}

export function decodeTrustlineBalance(data: xdr.LedgerEntryData): bigint {
  if (data.type !== 'trustline') throw new TypeError('not a trustline entry')
  return BigInt(data.trustLine.balance)
}

/** What a trustline entry says about receiving more of its asset. */
export interface TrustlineInfo {
  balance: bigint
  limit: bigint
  /** AUTHORIZED_FLAG: may receive (AUTHORIZED_TO_MAINTAIN_LIABILITIES alone may not) */
  authorized: boolean
  /** reserved by open buy offers: not available to payments */
  buyingLiabilities: bigint
}

const TRUSTLINE_AUTHORIZED_FLAG = 1

export function decodeTrustline(data: xdr.LedgerEntryData): TrustlineInfo {
  if (data.type !== 'trustline') throw new TypeError('not a trustline entry')
  const t = data.trustLine
  const buyingLiabilities = t.ext.type === 'v1' ? BigInt(t.ext.v1.liabilities.buying) : 0n
  return { balance: BigInt(t.balance), limit: BigInt(t.limit), authorized: (t.flags & TRUSTLINE_AUTHORIZED_FLAG) !== 0, buyingLiabilities }
}

/** Stroops a trustline can still receive: limit − balance − buying liabilities (≥ 0). */
export function trustlineRoom(t: TrustlineInfo): bigint {
  const room = t.limit - t.balance - t.buyingLiabilities
  return room > 0n ? room : 0n
}

export function plantOp(contractId: string, farmer: string, stake: bigint): xdr.Operation {
  return new Contract(contractId).call('plant', new Address(farmer).toScVal(), nativeToScVal(stake, { type: 'i128' }))
}

export function workOp(contractId: string, farmer: string, hash: Uint8Array, nonce: bigint): xdr.Operation {
  return new Contract(contractId).call('work', new Address(farmer).toScVal(), xdr.ScVal.scvBytes(Buffer.from(hash)), nativeToScVal(nonce, { type: 'u64' }))
}

export function harvestOp(contractId: string, farmer: string, index: number): xdr.Operation {
  return new Contract(contractId).call('harvest', new Address(farmer).toScVal(), xdr.ScVal.scvU32(index))
}

/** A diagnostic error event naming its contract: `contract:C…, topics:[error, Error(Contract, #N)], data:…` (one line). */
const ERROR_EVENT_RE = /contract:\s*(C[A-Z2-7]{55}),\s*topics:\s*\[\s*error,\s*Error\(Contract, #(\d+)\)\][^\n]*/g
/** data of the error events a caller adds when an error passes up through it (not where it was raised) */
const PROPAGATED_RE = /contract call failed|escalating error/

/**
 * `Error(Contract, #N)` in a simulation error or diagnostic text → N; with
 * `contractId`, only when that contract raised it. The KALE asset contract
 * (SAC) raises its own numbers (#10 balance, #13 trustline missing) that mean
 * something else in KALE (WorkMissing, HashInvalid): an error the diagnostic
 * events attribute to another contract is not a KALE code (undefined). Text
 * without attributed events (a bare "HostError: Error(Contract, #N)") counts as
 * the invoked contract's, as before.
 */
export function contractErrorOf(text: string, contractId?: string): number | undefined {
  const m = /Error\(Contract, #(\d+)\)/.exec(text)
  if (!m) return undefined
  if (contractId === undefined) return Number(m[1])
  const events = [...text.matchAll(ERROR_EVENT_RE)].map((e) => ({ contract: e[1]!, code: Number(e[2]), propagated: PROPAGATED_RE.test(e[0]) }))
  if (events.length === 0) return Number(m[1])
  // The host lists events newest first unless it says otherwise; the oldest
  // error event that is not a caller passing it on is where it was raised.
  const oldestFirst = /oldest first/i.test(text) && !/newest first/i.test(text)
  const ordered = oldestFirst ? events : events.reverse()
  const origin = ordered.find((e) => !e.propagated) ?? ordered[0]!
  return origin.contract === contractId ? origin.code : undefined
}

/** The block index a plant will land in, read from its simulated footprint's Pail key. */
export function pailIndexInFootprint(data: xdr.SorobanTransactionData, farmer: string): number | undefined {
  const fp = data.resources.footprint
  for (const key of [...fp.readWrite, ...fp.readOnly]) {
    if (key.type !== 'contractData') continue
    const k = key.contractData.key
    if (k.type !== 'scvVec') continue
    const v = k.vec ?? []
    const head = v[0]
    if (v.length !== 3 || !head || head.type !== 'scvSymbol' || head.sym.toString() !== 'Pail') continue
    if (scValToNative(v[1]!) !== farmer) continue
    return u32(scValToNative(v[2]!))
  }
  return undefined
}

/** The gap a successful `work` returns (u32), or null when the answer carried no return value. */
export function workGapOf(returnValue: xdr.ScVal | undefined): number | null {
  return returnValue ? Number(scValToNative(returnValue)) : null
}

/** The reward a successful `harvest` returns (i128 stroops), or 0 when the answer carried no return value. */
export function harvestRewardOf(returnValue: xdr.ScVal | undefined): bigint {
  return returnValue ? BigInt(scValToNative(returnValue) as bigint) : 0n
}
