// Which KALE network the pool farms on: RPC URL, passphrase, contract, asset and
// SAC ids. Built in for testnet and mainnet (KALE.md); read from the devnet's
// `GET /devnet` for devnet, and validated — a devnet is still input.
import { StrKey } from '@stellar/stellar-sdk'
import { PoolError, ErrorCode } from '../errors.js'

export type NetworkName = 'devnet' | 'testnet' | 'mainnet'

export interface NetworkInfo {
  name: NetworkName
  rpcUrl: string
  networkPassphrase: string
  /** farm contract C… */
  contractId: string
  /** KALE:ISSUER */
  asset: string
  /** KALE's Stellar Asset Contract C… */
  sacId: string
  /** friendbot base URL (devnet, testnet); none on mainnet */
  friendbotUrl: string | undefined
  /** expected real milliseconds per ledger (polling cadence) */
  ledgerMs: number
}

const REAL_LEDGER_MS = 5000
const DEVNET_INFO_BYTES_MAX = 64 * 1024

export const BUILT_IN: Readonly<Record<'testnet' | 'mainnet', Omit<NetworkInfo, 'rpcUrl'>>> = Object.freeze({
  testnet: {
    name: 'testnet',
    networkPassphrase: 'Test SDF Network ; September 2015',
    contractId: 'CDSWUUXGPWDZG76ISK6SUCVPZJMD5YUV66J2FXFXFGDX25XKZJIEITAO',
    asset: 'KALE:GCHPTWXMT3HYF4RLZHWBNRF4MPXLTJ76ISHMSYIWCCDXWUYOQG5MR2AB',
    sacId: 'CAAVU2UQJLMZ3GUZFM56KVNHLPA3ZSSNR4VP2U53YBXFD2GI3QLIVHZZ',
    friendbotUrl: 'https://friendbot.stellar.org',
    ledgerMs: REAL_LEDGER_MS,
  },
  mainnet: {
    name: 'mainnet',
    networkPassphrase: 'Public Global Stellar Network ; September 2015',
    contractId: 'CDL74RF5BLYR2YBLCCI7F5FB6TPSCLKEJUBSD2RSVWZ4YHF3VMFAIGWA',
    asset: 'KALE:GBDVX4VELCDSQ54KQJYTNHXAHFLBCA77ZY2USQBM4CSHTTV7DME7KALE',
    sacId: 'CB23WRDQWGSP6YPMY4UV5C4OW5CBTXKYN3XEATG7KJEZCXMJBYEHOUOV',
    friendbotUrl: undefined,
    ledgerMs: REAL_LEDGER_MS,
  },
})

/** `KALE:G…` → [code, issuer]; throws on anything else. */
export function splitAsset(asset: string): [string, string] {
  const m = /^([A-Za-z0-9]{1,12}):(G[A-Z2-7]{55})$/.exec(asset)
  if (!m || !StrKey.isValidEd25519PublicKey(m[2]!)) throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'asset must be CODE:G-issuer')
  return [m[1]!, m[2]!]
}

/** Validates a devnet's `/devnet` JSON into NetworkInfo (hostile input: every field checked). */
export function parseDevnetInfo(raw: unknown, rpcUrl: string): NetworkInfo {
  const bad = (what: string): never => {
    throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, `devnet info: ${what}`)
  }
  if (typeof raw !== 'object' || raw === null) return bad('not an object')
  const o = raw as Record<string, unknown>
  const s = (k: string): string => (typeof o[k] === 'string' && (o[k] as string).length > 0 && (o[k] as string).length < 512 ? (o[k] as string) : bad(`${k} missing`))
  const contractId = s('contractId')
  const sacId = s('sacId')
  if (!StrKey.isValidContract(contractId)) bad('contractId is not a C… address')
  if (!StrKey.isValidContract(sacId)) bad('sacId is not a C… address')
  const asset = s('asset')
  splitAsset(asset)
  const ledgerMs = typeof o.ledgerMs === 'number' && Number.isFinite(o.ledgerMs) && o.ledgerMs > 0 ? o.ledgerMs : bad('ledgerMs missing')
  const friendbotUrl = typeof o.friendbotUrl === 'string' && /^https?:\/\//.test(o.friendbotUrl) ? o.friendbotUrl : undefined
  return { name: 'devnet', rpcUrl, networkPassphrase: s('networkPassphrase'), contractId, asset, sacId, friendbotUrl, ledgerMs }
}

/** The `/devnet` URL served beside a devnet's RPC endpoint. */
export function devnetInfoUrl(rpcUrl: string): string {
  return new URL('/devnet', rpcUrl).toString()
}

export interface ResolveOptions {
  kaleNetwork: NetworkName
  /** STELLAR_RPC_URL, or the in-process devnet's URL */
  rpcUrl: string | undefined
  timeoutMs: number
}

export async function resolveNetwork(opts: ResolveOptions): Promise<NetworkInfo> {
  if (!opts.rpcUrl) throw new PoolError(ErrorCode.CONFIG_INVALID, `STELLAR_RPC_URL must be set for ${opts.kaleNetwork}`)
  if (opts.kaleNetwork !== 'devnet') return { ...BUILT_IN[opts.kaleNetwork], rpcUrl: opts.rpcUrl }
  const url = devnetInfoUrl(opts.rpcUrl)
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs) })
  } catch (err) {
    const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
    throw new PoolError(timeout ? ErrorCode.RPC_TIMEOUT : ErrorCode.RPC_NETWORK, `devnet info: ${timeout ? 'timed out' : 'unreachable'} at ${url}`, {}, { cause: err })
  }
  if (!res.ok) throw new PoolError(ErrorCode.RPC_HTTP, `devnet info: HTTP ${res.status} at ${url}`, { status: res.status })
  const text = await res.text()
  if (text.length > DEVNET_INFO_BYTES_MAX) throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'devnet info: too large')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new PoolError(ErrorCode.RPC_RESPONSE_INVALID, 'devnet info: not JSON')
  }
  return parseDevnetInfo(json, opts.rpcUrl)
}
