// startDevnet: a local KALE network speaking Soroban JSON-RPC over HTTP.
// Ledger clock: one close every `ledgerMs` real ms (each +5 s of ledger time),
// scheduled against the start time so closes do not drift.
import { Keypair } from '@stellar/stellar-sdk'
import { Chain, genesisState, RECORDS_LEDGERS_MAX } from './chain.js'
import { TxLog } from './tx-log.js'
import { RpcServer } from './rpc-server.js'
import { Faults } from './faults.js'
import { makeIds, XdrBuilder } from './xdr.js'
import { loadState, saveState } from './persist.js'
import { TEMP_TTL_LEDGERS_DEFAULT } from './state.js'
import { Bots } from './bots.js'

export interface DevnetOptions {
  /** default 8000; 0 = any free port */
  port?: number
  /** default 127.0.0.1 */
  host?: string
  /** real ms per ledger, default 5000 */
  ledgerMs?: number
  bots?: number
  /** 0..1 */
  faultRate?: number
  seed?: string | number
  dataDir?: string
  /** Block/Pail TTL in ledgers, default 17280 */
  tempTtlLedgers?: number
}

export interface DevnetInfo {
  rpcUrl: string
  networkPassphrase: string
  contractId: string
  /** KALE:ISSUER */
  asset: string
  sacId: string
  friendbotUrl: string
  ledgerMs: number
}

export interface Devnet {
  info: DevnetInfo
  close(): Promise<void>
  /** The in-process ledger machine (tests, bench, the pool's embedded mode). */
  chain: Chain
  /** Closes one ledger now (tests); the clock keeps its schedule. */
  closeLedger(): void
  faults: Faults
}

export const DEVNET_PASSPHRASE = 'Standalone Network ; February 2017'
export const LEDGER_MS_MIN = 10

export async function startDevnet(options: DevnetOptions = {}): Promise<Devnet> {
  const ledgerMs = options.ledgerMs ?? 5000
  if (!Number.isFinite(ledgerMs) || ledgerMs < LEDGER_MS_MIN) throw new RangeError(`ledgerMs must be ≥ ${LEDGER_MS_MIN}`)
  const faultRate = options.faultRate ?? 0
  if (!(faultRate >= 0 && faultRate <= 1)) throw new RangeError('faultRate must be 0..1')
  const tempTtlLedgers = options.tempTtlLedgers ?? TEMP_TTL_LEDGERS_DEFAULT
  const passphrase = DEVNET_PASSPHRASE
  const ids = makeIds(passphrase, 'kale-pool devnet farm', 'kale-pool devnet issuer')
  const root = Keypair.master(passphrase)
  const saved = options.dataDir ? loadState(options.dataDir) : null
  const state = saved?.state ?? genesisState(Math.floor(Date.now() / 1000), root.publicKey(), ids.issuer)
  const chain = new Chain(state, ids, new XdrBuilder(ids), tempTtlLedgers, root)
  if (options.dataDir) {
    chain.txLog = new TxLog(options.dataDir, RECORDS_LEDGERS_MAX)
    const oldest = chain.txLog.oldest
    if (oldest) {
      chain.oldestLedger = oldest.ledger
      chain.oldestLedgerCloseTime = oldest.closeTime
    }
  }
  const logClose = (): void => {
    const hashes = chain.lastClosedHashes()
    if (!chain.txLog || hashes.length === 0) return
    chain.txLog.append(chain.state.sequence, Number(chain.state.closeTime), hashes.map((hash) => {
      const { latestLedger: _a, latestLedgerCloseTime: _b, oldestLedger: _c, oldestLedgerCloseTime: _d, ...answer } = chain.getTransaction(hash)
      return { hash, answer }
    }))
  }
  const faults = new Faults(faultRate, options.seed)
  const bots = options.bots ? new Bots(chain, options.bots, options.seed) : null
  let info: DevnetInfo | null = null
  const server = new RpcServer({ chain, faults, info: () => ({ ...info }), friendbotUrl: () => info?.friendbotUrl ?? '' })
  const host = options.host ?? '127.0.0.1'
  const port = await server.listen(options.port ?? 8000, host)
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  info = {
    rpcUrl: `${base}/`,
    networkPassphrase: passphrase,
    contractId: ids.contractId,
    asset: `KALE:${ids.issuer}`,
    sacId: ids.sacId,
    friendbotUrl: `${base}/friendbot`,
    ledgerMs,
  }
  const closeOne = () => {
    chain.closeLedger()
    bots?.afterClose()
    // history first: a crash between the two leaves a known transaction, never a state without its record
    logClose()
    if (options.dataDir) saveState(options.dataDir, { passphrase, state: chain.state })
  }
  const started = Date.now()
  let closes = 0
  let timer: NodeJS.Timeout | null = null
  let closed = false
  const schedule = () => {
    closes++
    const due = started + closes * ledgerMs
    timer = setTimeout(tick, Math.max(0, due - Date.now()))
  }
  const tick = () => {
    if (closed) return
    try {
      closeOne()
    } finally {
      // after a long stall (suspended process) resume from now rather than closing a burst
      if (Date.now() - (started + closes * ledgerMs) > 10 * ledgerMs) closes = Math.floor((Date.now() - started) / ledgerMs)
      schedule()
    }
  }
  schedule()
  return {
    info,
    chain,
    faults,
    closeLedger: closeOne,
    async close() {
      if (closed) return
      closed = true
      if (timer) clearTimeout(timer)
      chain.abortFriendbot()
      await server.close()
      if (options.dataDir) saveState(options.dataDir, { passphrase, state: chain.state })
    },
  }
}
