// `kale-pool farmers add <count> [--stake-percent P]` creates funded farmer
// accounts with a KALE trustline, secrets encrypted under the master key;
// `kale-pool farmers list` prints them (public data only — never a secret).
import { StrKey } from '@stellar/stellar-sdk'
import { parseArgs, argError, numberFlag } from '../args.js'
import { loadConfig, type Config } from '../config.js'
import { createLogger } from '../log.js'
import { openDb } from '../ledger/db.js'
import { migrate } from '../ledger/migrate.js'
import { PgChainStore } from '../ledger/chain-store.js'
import { resolveNetwork } from '../chain/network.js'
import { createChain } from '../chain/index.js'
import { createFarmers } from '../chain/farmers.js'
import { loadMasterKey } from '../chain/secrets.js'
import { signerFromSeed, type Signer } from '../chain/signer.js'
import type { ChainStore } from '../chain/store.js'
import { lockDataDir, type DataDirLock } from '../lockfile.js'
import { PoolError, ErrorCode, isPoolError } from '../errors.js'

const ADD_COUNT_MAX = 10_000

const USAGE = 'usage: kale-pool farmers add <count> [--stake-percent P] | list'

export async function run(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, ['stake-percent'])
  const [sub, ...rest] = args.positionals
  if (sub === 'list') {
    if (rest.length > 0 || args.flags.size > 0) throw argError(USAGE)
    // Public data from the database: no master key or RPC URL is asked for.
    return withStore(loadConfig(process.env, 'database'), async (store) => list(store))
  }
  const config = loadConfig(process.env)
  if (sub === 'add') {
    if (rest.length !== 1) throw argError(USAGE)
    const count = /^\d+$/.test(rest[0]!) ? Number(rest[0]) : NaN
    if (!Number.isSafeInteger(count) || count < 1 || count > ADD_COUNT_MAX) throw argError(`count must be an integer 1..${ADD_COUNT_MAX}`)
    const stakePercent = numberFlag(args, 'stake-percent', 0, 100, config.stakePercent)
    return withStore(config, async (store) => add(config, store, count, stakePercent))
  }
  throw argError(USAGE)
}

async function withStore(config: Config, fn: (store: ChainStore) => Promise<number>): Promise<number> {
  // The embedded database must never be opened by two processes (farmers added
  // beside a running pool were lost with their funded keys): take the data
  // directory's lock, as `start` and `migrate` do. A running pool adds farmers
  // itself: POST /api/farmers.
  let lock: DataDirLock | null = null
  if (config.databaseUrl === undefined) {
    try {
      lock = lockDataDir(config.dataDir)
    } catch (err) {
      if (isPoolError(err) && err.code === ErrorCode.LOCKED) {
        throw new PoolError(ErrorCode.LOCKED, `${err.message} (a running pool adds farmers itself: POST /api/farmers with ADMIN_TOKEN)`)
      }
      throw err
    }
  }
  try {
    const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 1 })
    try {
      await migrate(db.sql)
      return await fn(new PgChainStore(db.sql))
    } finally {
      await db.close()
    }
  } finally {
    lock?.release()
  }
}

async function list(store: ChainStore): Promise<number> {
  const farmers = await store.listFarmers()
  for (const f of farmers) {
    process.stdout.write(`${f.publicKey}  ${f.status.padEnd(8)}  stake ${String(f.stakePercent).padStart(5)}%  created ${new Date(f.createdAt).toISOString()}\n`)
  }
  process.stdout.write(`${farmers.length} farmer${farmers.length === 1 ? '' : 's'} (${farmers.filter((f) => f.status === 'active').length} active)\n`)
  return 0
}

function funderOf(config: Config): Signer | undefined {
  if (config.fundingSecret === undefined) return undefined
  return signerFromSeed(Uint8Array.from(StrKey.decodeEd25519SecretSeed(config.fundingSecret)))
}

async function add(config: Config, store: ChainStore, count: number, stakePercent: number): Promise<number> {
  const log = createLogger(config.logLevel)
  // On devnet without STELLAR_RPC_URL the running pool's devnet is on DEVNET_PORT.
  const rpcUrl = config.stellarRpcUrl ?? `http://127.0.0.1:${config.devnetPort}/`
  const net = await resolveNetwork({ kaleNetwork: config.kaleNetwork, rpcUrl, timeoutMs: config.rpcTimeoutMs })
  const chain = createChain({
    net, store, log, masterKey: loadMasterKey(config), funder: funderOf(config),
    rpcTimeoutMs: config.rpcTimeoutMs, rpcRetriesMax: config.rpcRetriesMax, chainConcurrencyMax: config.chainConcurrencyMax,
    feeInclusionMaxStroops: config.feeInclusionMaxStroops, feeResourceMaxStroops: config.feeResourceMaxStroops, workLeadSeconds: config.workLeadSeconds, farmerXlmMin: config.farmerXlmMin,
  })
  const made = await createFarmers(chain.accounts, count, stakePercent)
  for (const pk of made) process.stdout.write(`${pk}\n`)
  process.stdout.write(`added ${made.length} farmer${made.length === 1 ? '' : 's'} on ${net.name} (stake ${stakePercent}%)\n`)
  return 0
}
