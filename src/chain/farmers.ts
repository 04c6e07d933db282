// Farmer accounts: custodial Stellar accounts the pool creates, funds (friendbot
// on devnet/testnet, the FUNDING_SECRET account on mainnet), gives a KALE
// trustline and tops up with XLM. The encrypted secret is stored BEFORE any
// funds move, so money never goes to a key the pool could lose; a farmer whose
// setup was interrupted is repaired by the next ensureFarmers.
import { Asset, Operation } from '@stellar/stellar-sdk'
import { PoolError, ErrorCode } from '../errors.js'
import type { Logger } from '../log.js'
import { accountKey, decodeAccount, keyId, trustlineKey } from './contract.js'
import { splitAsset, type NetworkInfo } from './network.js'
import { readEntries, sleep, type RpcClient } from './rpc.js'
import { decryptSigner, encryptSeed } from './secrets.js'
import { generateSeed, signerFromSeed, type Signer } from './signer.js'
import type { ChainStore, FarmerRecord } from './store.js'
import type { Submitter } from './submitter.js'
import type { ActiveFarmer } from './scheduler.js'

const STROOPS_PER_XLM = 10_000_000n
const PAYMENT_OPS_PER_TX_MAX = 100
const FRIENDBOT_CONCURRENCY_MAX = 16
const FRIENDBOT_ATTEMPTS_MAX = 4
/** an account below FARMER_XLM_MIN is topped up to twice that */
const TOP_UP_FACTOR = 2n

export interface FarmerAccountsOptions {
  rpc: RpcClient
  net: NetworkInfo
  submitter: Submitter
  store: ChainStore
  masterKey: Buffer
  log: Logger
  /** FUNDING_SECRET's signer (required on mainnet; optional elsewhere) */
  funder?: Signer | undefined
  /** FARMER_XLM_MIN, XLM */
  farmerXlmMin: number
  requestTimeoutMs: number
}

export function xlmToStroops(xlm: number): bigint {
  return BigInt(Math.round(xlm * 1e7))
}

function kaleAsset(net: NetworkInfo): Asset {
  const [code, issuer] = splitAsset(net.asset)
  return new Asset(code, issuer)
}

/** Decrypts the active farmers into in-memory signers. */
export function activeFarmers(records: readonly FarmerRecord[], masterKey: Buffer): ActiveFarmer[] {
  return records.filter((r) => r.status === 'active').map((r) => ({ signer: decryptSigner(masterKey, r.publicKey, r.encryptedSecret), stakePercent: r.stakePercent }))
}

async function friendbot(o: FarmerAccountsOptions, publicKey: string): Promise<void> {
  const base = o.net.friendbotUrl
  if (!base) throw new PoolError(ErrorCode.FUNDING_FAILED, `${o.net.name} has no friendbot: set FUNDING_SECRET`)
  const url = `${base}${base.includes('?') ? '&' : '?'}addr=${encodeURIComponent(publicKey)}`
  let last = 'no attempt'
  for (let i = 0; i < FRIENDBOT_ATTEMPTS_MAX; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(o.requestTimeoutMs) })
      await res.arrayBuffer()
      if (res.ok) return
      last = `HTTP ${res.status}`
      if (res.status < 500 && res.status !== 429) break
    } catch (err) {
      last = (err as Error).name === 'TimeoutError' ? 'timed out' : 'network error'
    }
    await sleep(200 * 2 ** i)
  }
  throw new PoolError(ErrorCode.FUNDING_FAILED, `friendbot could not fund ${publicKey}: ${last}`)
}

/** Runs fn over items with at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

interface AccountState {
  exists: boolean
  balance: bigint
  trusted: boolean
}

async function accountStates(o: FarmerAccountsOptions, pks: readonly string[]): Promise<Map<string, AccountState>> {
  const keys = pks.flatMap((pk) => [accountKey(pk), trustlineKey(pk, o.net.asset)])
  const { entries } = await readEntries(o.rpc, keys)
  const out = new Map<string, AccountState>()
  pks.forEach((pk, i) => {
    const acc = entries.get(keyId(keys[2 * i]!))
    out.set(pk, { exists: acc !== undefined, balance: acc ? decodeAccount(acc.val).balance : 0n, trusted: entries.has(keyId(keys[2 * i + 1]!)) })
  })
  return out
}

/** Creates accounts with the funder: createAccount ops, ≤ 100 per transaction. */
async function fundWithFunder(o: FarmerAccountsOptions, funder: Signer, pks: readonly string[]): Promise<void> {
  const start = (xlmToStroops(o.farmerXlmMin) * TOP_UP_FACTOR).toString()
  for (let i = 0; i < pks.length; i += PAYMENT_OPS_PER_TX_MAX) {
    const ops = pks.slice(i, i + PAYMENT_OPS_PER_TX_MAX).map((destination) => Operation.createAccount({ destination, startingBalance: stroopsToXlmString(BigInt(start)) }))
    const res = await o.submitter.submit({ source: funder, op: 'account', classic: ops })
    if (res.status !== 'success') throw new PoolError(ErrorCode.FUNDING_FAILED, `funding account could not create farmer accounts: ${res.status === 'failed' ? res.reason : 'contract error'}`)
  }
}

function stroopsToXlmString(s: bigint): string {
  const whole = s / STROOPS_PER_XLM
  const frac = (s % STROOPS_PER_XLM).toString().padStart(7, '0').replace(/0+$/, '')
  return frac ? `${whole}.${frac}` : whole.toString()
}

/** The account that pays top-ups: FUNDING_SECRET, or on a friendbot network a fresh friendbot-funded account. */
async function topUpFunder(o: FarmerAccountsOptions): Promise<Signer> {
  if (o.funder) return o.funder
  const { seed } = generateSeed()
  const signer = signerFromSeed(seed)
  await friendbot(o, signer.publicKey)
  return signer
}

/** Brings every given farmer to a usable state: exists, trusts KALE, holds ≥ FARMER_XLM_MIN. */
export async function repairFarmers(o: FarmerAccountsOptions, farmers: readonly Signer[]): Promise<void> {
  if (farmers.length === 0) return
  const states = await accountStates(o, farmers.map((f) => f.publicKey))
  const missing = farmers.filter((f) => !states.get(f.publicKey)!.exists)
  if (missing.length > 0) {
    if (o.net.friendbotUrl && !o.funder) await eachLimited(missing, FRIENDBOT_CONCURRENCY_MAX, (f) => friendbot(o, f.publicKey))
    else if (o.funder) await fundWithFunder(o, o.funder, missing.map((f) => f.publicKey))
    else throw new PoolError(ErrorCode.FUNDING_FAILED, `${o.net.name} needs FUNDING_SECRET to create farmer accounts`)
    for (const f of missing) o.submitter.invalidate(f.publicKey)
  }
  const asset = kaleAsset(o.net)
  const untrusted = farmers.filter((f) => !states.get(f.publicKey)!.trusted)
  const trustResults = await Promise.all(untrusted.map((f) => o.submitter.submit({ source: f, op: 'account', classic: [Operation.changeTrust({ asset })] })))
  const trustFailed = trustResults.filter((r) => r.status !== 'success').length
  if (trustFailed > 0) throw new PoolError(ErrorCode.FUNDING_FAILED, `${trustFailed} of ${untrusted.length} KALE trustlines failed`)
  const min = xlmToStroops(o.farmerXlmMin)
  const low = farmers.filter((f) => missing.indexOf(f) < 0 && states.get(f.publicKey)!.balance < min)
  if (low.length > 0) await topUp(o, low.map((f) => ({ pk: f.publicKey, amount: min * TOP_UP_FACTOR - states.get(f.publicKey)!.balance })))
}

async function topUp(o: FarmerAccountsOptions, list: Array<{ pk: string; amount: bigint }>): Promise<void> {
  const funder = await topUpFunder(o)
  for (let i = 0; i < list.length; i += PAYMENT_OPS_PER_TX_MAX) {
    const ops = list.slice(i, i + PAYMENT_OPS_PER_TX_MAX).map(({ pk, amount }) => Operation.payment({ destination: pk, asset: Asset.native(), amount: stroopsToXlmString(amount) }))
    const res = await o.submitter.submit({ source: funder, op: 'account', classic: ops })
    if (res.status !== 'success') o.log.warn({ farmers: ops.length }, 'XLM top-up failed; retried at next start')
  }
}

/** Creates `count` new farmer accounts: secret encrypted and stored first, then funded and trusted. */
export async function createFarmers(o: FarmerAccountsOptions, count: number, stakePercent: number): Promise<string[]> {
  // Checked before anything is stored: an active farmer that can never be funded
  // would stop every later start (ensureFarmers repairs it, and cannot).
  if (!o.net.friendbotUrl && !o.funder) {
    throw new PoolError(ErrorCode.ARGUMENT_INVALID, `${o.net.name} needs FUNDING_SECRET to create farmer accounts; none was created`)
  }
  const made: Signer[] = []
  for (let i = 0; i < count; i++) {
    const { publicKey, seed } = generateSeed()
    const encryptedSecret = encryptSeed(o.masterKey, publicKey, seed)
    made.push(signerFromSeed(seed))
    await o.store.addFarmer({ publicKey, encryptedSecret, stakePercent, status: 'active', createdAt: Date.now() })
  }
  await repairFarmers(o, made)
  o.log.info({ count }, 'farmer accounts created')
  return made.map((s) => s.publicKey)
}

/** Keeps `count` active farmers ready (repairing half-made ones) and returns them with their signers. */
export async function ensureFarmers(o: FarmerAccountsOptions, count: number, stakePercent = 0): Promise<ActiveFarmer[]> {
  const existing = activeFarmers(await o.store.listFarmers(), o.masterKey)
  await repairFarmers(o, existing.map((f) => f.signer))
  if (existing.length < count) await createFarmers(o, count - existing.length, stakePercent)
  return activeFarmers(await o.store.listFarmers(), o.masterKey)
}
