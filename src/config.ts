// The one reader of process.env. Every variable is declared once in SPEC with its
// default, its allowed range and a line of documentation (the README's table is
// checked against this list by test/config.test.ts).
import { isIP } from 'node:net'
import { PoolError, ErrorCode } from './errors.js'

type Kind =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'string'; pattern?: RegExp; valid?: (v: string) => boolean; hint?: string }

type Spec = Kind & { default: string | undefined; doc: string; secret?: boolean }

type Meta<D> = { default: D; doc: string; secret?: boolean }
type IntSpec<D> = { kind: 'int'; min: number; max: number } & Meta<D>
type NumSpec<D> = { kind: 'number'; min: number; max: number } & Meta<D>
type EnumSpec<V extends string> = { kind: 'enum'; values: readonly V[] } & Meta<string>
type StrSpec<D> = { kind: 'string'; pattern?: RegExp; valid?: (v: string) => boolean; hint?: string } & Meta<D>

function int(min: number, max: number, def: number, doc: string): IntSpec<string>
function int(min: number, max: number, def: undefined, doc: string): IntSpec<undefined>
function int(min: number, max: number, def: number | undefined, doc: string): IntSpec<string | undefined> {
  return { kind: 'int', min, max, default: def === undefined ? undefined : String(def), doc }
}
const num = (min: number, max: number, def: number, doc: string): NumSpec<string> => ({ kind: 'number', min, max, default: String(def), doc })
const oneOf = <const V extends string>(values: readonly V[], def: V, doc: string): EnumSpec<V> => ({ kind: 'enum', values, default: def, doc })
/** What a string variable may add: a pattern, a check beyond it, the hint its message names, secrecy. */
type StrExtra = Partial<{ pattern: RegExp; valid: (v: string) => boolean; hint: string; secret: boolean }>
function str(def: string, doc: string, extra?: StrExtra): StrSpec<string>
function str(def: undefined, doc: string, extra?: StrExtra): StrSpec<undefined>
function str(def: string | undefined, doc: string, extra: StrExtra = {}): StrSpec<string | undefined> {
  return { kind: 'string', default: def, doc, ...extra }
}

const PORT_MAX = 65535
const HOURS_24_SECONDS = 86_400
/** The most KALE whose stroops (10^7 per KALE) fit a bigint column: (2^63 − 1) / 10^7. */
const KALE_IN_INT8_MAX = 922_337_203_685

/** A URL the URL parser takes: host and port valid, percent-escapes well formed. */
function parsableUrl(v: string): boolean {
  try {
    new URL(v)
    decodeURIComponent(v)
    return true
  } catch {
    return false
  }
}

/** A PostgreSQL URL postgres.js takes: one host, or a comma-separated list of hosts (each must parse). */
function parsablePostgresUrl(v: string): boolean {
  const m = /^([a-z]+:\/\/(?:[^@/?#]*@)?)([^/?#]*)(.*)$/i.exec(v)
  return m !== null && m[2]!.split(',').every((host) => parsableUrl(m[1]! + host + m[3]!))
}

/** An address to bind: an IP literal or a host name (a typo fails here, not as ENOTFOUND at listen). */
const HOST: StrExtra = {
  // Labels of letters, digits, '-' and '_' (container and service names use '_'), an optional final dot.
  valid: (v) => isIP(v) !== 0 || /^(?=.{1,254}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*\.?$/.test(v),
  hint: 'an IP address or a host name',
}

/** Every environment variable kale-pool reads. Order = README order. */
export const SPEC = {
  // network and chain
  KALE_NETWORK: oneOf(['devnet', 'testnet', 'mainnet'], 'devnet', 'Which Stellar network to farm on.'),
  STELLAR_RPC_URL: str(undefined, 'Soroban RPC URL. Unset on devnet: the pool runs its own devnet in-process.', { pattern: /^https?:\/\/\S+$/, valid: parsableUrl, hint: 'an http(s) URL' }),
  DEVNET_LEDGER_MS: int(10, 60_000, 5000, 'Real milliseconds per devnet ledger (each adds 5 s of ledger time).'),
  DEVNET_PORT: int(0, PORT_MAX, 8000, 'Port of the in-process devnet RPC (0 = any free port).'),
  RPC_TIMEOUT_MS: int(100, 120_000, 10_000, 'Timeout of one RPC request.'),
  RPC_RETRIES_MAX: int(0, 20, 4, 'Retries of a transient RPC failure (backoff with jitter).'),
  FEE_INCLUSION_MAX_STROOPS: int(100, 100_000_000, 10_000, 'Cap on the inclusion fee bid per transaction.'),
  FEE_RESOURCE_MAX_STROOPS: int(1, 4_294_967_295, 10_000_000, 'Cap on the resource fee a simulation may ask per transaction; above it nothing is signed.'),
  CHAIN_CONCURRENCY_MAX: int(1, 10_000, 64, 'Chain transactions being simulated, signed and sent at once (waiting for outcomes is not limited).'),
  WORK_LEAD_SECONDS: int(5, 290, 15, 'Submit work this many seconds before the earliest rollover.'),
  // farmer accounts and secrets
  FARMERS: int(0, 100_000, undefined, 'Farmer accounts kept ready at start (default 4 on devnet, 0 elsewhere).'),
  STAKE_PERCENT: num(0, 100, 0, 'Default stake policy of new farmer accounts (% of KALE balance planted).'),
  FARMER_XLM_MIN: num(1.5, 1_000_000, 5, 'Top a farmer account up with XLM when it falls below this.'),
  FUNDING_SECRET: str(undefined, 'Secret key of the account that funds farmer accounts on mainnet.', { pattern: /^S[A-Z2-7]{55}$/, hint: 'a Stellar secret key (S…)', secret: true }),
  MASTER_KEY: str(undefined, 'Key encrypting farmer secrets at rest: 64 hex digits.', { pattern: /^[0-9a-fA-F]{64}$/, hint: '64 hex digits', secret: true }),
  MASTER_KEY_FILE: str(undefined, 'File holding MASTER_KEY (on devnet generated in DATA_DIR if absent).'),
  DATA_DIR: str('./data', 'Where the embedded database, devnet state and the lock file live.'),
  // stratum
  STRATUM_HOST: str('0.0.0.0', 'Address the stratum server binds.', HOST),
  STRATUM_PORT: int(0, PORT_MAX, 3333, 'Stratum TCP port (0 = any free port).'),
  STRATUM_TLS_PORT: int(0, PORT_MAX, undefined, 'Optional stratum-over-TLS port (needs TLS_CERT_FILE and TLS_KEY_FILE).'),
  TLS_CERT_FILE: str(undefined, 'PEM certificate for STRATUM_TLS_PORT.'),
  TLS_KEY_FILE: str(undefined, 'PEM private key for STRATUM_TLS_PORT.'),
  STRATUM_LINE_BYTES_MAX: int(256, 1_048_576, 4096, 'Longest accepted protocol line; longer closes the connection.'),
  SESSIONS_MAX: int(1, 1_000_000, 20_000, 'Connected sessions at most; more are refused.'),
  CONNECTIONS_PER_IP_MAX: int(1, 1_000_000, 256, 'Connections from one IP at most.'),
  SUBSCRIBE_TIMEOUT_SECONDS: int(1, 3600, 10, 'Close a connection that has not subscribed by then.'),
  SESSION_IDLE_SECONDS: int(10, HOURS_24_SECONDS, 600, 'Close a session without a valid share for this long.'),
  WRITE_STALL_SECONDS: int(1, 3600, 60, 'Close a client whose socket has not drained for this long.'),
  BAN_SECONDS: int(0, HOURS_24_SECONDS * 30, 600, 'Refuse an IP this long after an invalid-share ban.'),
  BAN_INVALID_PERCENT: int(1, 100, 50, 'Ban when invalid shares exceed this percentage…'),
  BAN_SHARES_MIN: int(1, 1_000_000, 50, '…of at least this many shares.'),
  STRATUM_NONCES_REMEMBERED_MAX: int(1, 1_000_000_000, 4_194_304, 'Judged nonces remembered for duplicate detection across all sessions in one block, at most (plus the shares in flight); past half of it only sessions below an even share go on; at it shares answer 20 until the next block.'),
  EXTRANONCE1_BYTES: int(1, 6, 3, 'Bytes of the nonce the pool assigns per session.'),
  VARDIFF_TARGET_SECONDS: num(0.1, 3600, 10, 'Vardiff aims at one share per this many seconds per session.'),
  VARDIFF_RETARGET_SECONDS: num(1, 3600, 60, 'Retarget at most this often (or after 30 shares).'),
  DIFFICULTY_START: num(1, 2 ** 64, 65536, 'Difficulty of a new session.'),
  DIFFICULTY_MIN: num(1, 2 ** 64, 256, 'Lowest difficulty vardiff or d= may set.'),
  DIFFICULTY_MAX: num(1, 2 ** 64, 2 ** 40, 'Highest difficulty vardiff or d= may set.'),
  // verification
  VERIFY_THREADS: int(1, 256, 2, 'Worker threads verifying share hashes.'),
  // 8192 shares (~3 ms of one core) per task and eight tasks' worth in flight: on
  // 2 cores the collecting thread wakes less often (every wake takes a core from a
  // worker) and a worker always has a task queued. `npm run bench -- verify`,
  // 2-vCPU EPYC: 1024/8192 gave 0.67–0.69 of 2 × one raw thread, 4096/16384
  // 0.69–0.75; same-process A/B against 4096/16384, 8192/32768 +5.7 %, then
  // 8192/65536 +3 %. Under light load a task is whatever 1 ms brings.
  VERIFY_BATCH_MAX: int(1, 65_536, 8192, 'Shares per verification task at most.'),
  VERIFY_BATCH_MS: num(0, 100, 1, 'Micro-batching window of shares waiting for a task.'),
  VERIFY_QUEUE_MAX: int(1, 1_000_000, 64, 'Verification tasks queued at most; then submits answer busy.'),
  VERIFY_SHARES_IN_FLIGHT_MAX: int(1, 10_000_000, 65_536, 'Shares taken for verification and not yet answered, at most; then submits answer busy.'),
  VERIFY_IDLE_TIMEOUT_MS: int(0, 3_600_000, 30_000, 'Idle worker threads exit after this long.'),
  // ledger
  DATABASE_URL: str(undefined, 'PostgreSQL URL. Unset: embedded PostgreSQL (PGlite) under DATA_DIR/pg.', { pattern: /^postgres(ql)?:\/\/\S+$/, valid: parsablePostgresUrl, hint: 'a postgres:// URL', secret: true }),
  DATABASE_POOL_MAX: int(1, 100, 10, 'Connections to DATABASE_URL at most (the embedded database uses 1).'),
  SHARE_FLUSH_MS: int(10, 60_000, 1000, 'Share totals are written to the database this often.'),
  SHARE_BUFFER_ROWS_MAX: int(100, 10_000_000, 100_000, 'Buffered share rows at most while the database is away; then busy.'),
  POOL_FEE_PERCENT: num(0, 100, 1, 'Pool fee taken from each block reward.'),
  PAYOUT_SCHEME: oneOf(['prop', 'pplns'], 'prop', 'prop: per block; pplns: over the last PPLNS_BLOCKS blocks.'),
  PPLNS_BLOCKS: int(1, 10_000, 8, 'Window of blocks for PAYOUT_SCHEME=pplns.'),
  PAYOUT_INTERVAL_SECONDS: int(1, HOURS_24_SECONDS * 7, 3600, 'How often payouts run.'),
  PAYOUT_THRESHOLD_KALE: num(0.0000001, KALE_IN_INT8_MAX, 100, 'Pay a miner once its balance reaches this many KALE.'),
  // http and logs
  HTTP_HOST: str('0.0.0.0', 'Address the HTTP server (metrics, API) binds.', HOST),
  HTTP_PORT: int(0, PORT_MAX, 8080, 'HTTP port for /metrics, /health and /api (0 = any free port).'),
  HTTP_VIEWS_IN_FLIGHT_MAX: int(1, 10_000, 8, 'Public API reads of the database running at once, at most; more answer 503 with Retry-After (/health and /api/pool are shared and cached apart).'),
  HTTP_WRITE_STALL_SECONDS: int(1, 3600, 30, 'Close an HTTP connection whose answers have made no progress to the client for this long.'),
  ADMIN_TOKEN: str(undefined, 'Bearer token of the admin API; unset disables it.', { pattern: /^[\x21-\x7e]{16,}$/, hint: 'at least 16 printable ASCII characters, no spaces (HTTP headers carry no other)', secret: true }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', 'pino log level.'),
} as const satisfies Record<string, Spec>

export type VarName = keyof typeof SPEC

type ValueOf<S> = S extends { kind: 'int' | 'number' } ? number : S extends { kind: 'enum'; values: readonly (infer V)[] } ? V : string
type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${Lowercase<H>}${Capitalize<Camel<T>>}` : Lowercase<S>
type Defined<S> = S extends { default: string } ? true : false

export type Config = {
  readonly [K in Exclude<VarName, 'FARMERS'> as Camel<K>]: Defined<(typeof SPEC)[K]> extends true ? ValueOf<(typeof SPEC)[K]> : ValueOf<(typeof SPEC)[K]> | undefined
} & { readonly farmers: number }

export function camel(name: string): string {
  return name.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function fail(message: string): never {
  throw new PoolError(ErrorCode.CONFIG_INVALID, message)
}

function parseValue(name: string, spec: Spec, raw: string): string | number {
  switch (spec.kind) {
    case 'int': {
      const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN
      if (!Number.isSafeInteger(n) || n < spec.min || n > spec.max) fail(`${name} must be an integer ${spec.min}..${spec.max}`)
      return n
    }
    case 'number': {
      const n = /^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(raw) ? Number(raw) : NaN
      if (!Number.isFinite(n) || n < spec.min || n > spec.max) fail(`${name} must be a number ${spec.min}..${spec.max}`)
      return n
    }
    case 'enum':
      if (!spec.values.includes(raw)) fail(`${name} must be one of ${spec.values.join(', ')}`)
      return raw
    case 'string':
      if (raw.length === 0) fail(`${name} must not be empty`)
      // The message never echoes the value: some of these variables are secrets.
      if ((spec.pattern && !spec.pattern.test(raw)) || (spec.valid && !spec.valid(raw))) fail(`${name} must be ${spec.hint ?? `like ${spec.pattern}`}`)
      return raw
  }
}

/**
 * What the caller runs: the pool ('pool', the default, checks everything), or a
 * command that only opens the database ('database': `migrate`, `farmers list`),
 * which does not need the chain settings (STELLAR_RPC_URL, a master key,
 * FUNDING_SECRET).
 */
export type ConfigScope = 'pool' | 'database'

/** Validates `env` against SPEC; throws PoolError(CONFIG_INVALID) naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env, scope: ConfigScope = 'pool'): Config {
  const out: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(SPEC) as [string, Spec][]) {
    const raw = env[name]
    const value = raw === undefined || raw === '' ? spec.default : raw.trim()
    out[camel(name)] = value === undefined ? undefined : parseValue(name, spec, value)
  }
  return Object.freeze(crossCheck(out, scope)) as unknown as Config
}

function crossCheck(c: Record<string, unknown>, scope: ConfigScope): Record<string, unknown> {
  if (c.farmers === undefined) c.farmers = c.kaleNetwork === 'devnet' ? 4 : 0
  if ((c.difficultyMin as number) > (c.difficultyMax as number)) fail('DIFFICULTY_MIN must be <= DIFFICULTY_MAX')
  const start = c.difficultyStart as number
  if (start < (c.difficultyMin as number) || start > (c.difficultyMax as number)) fail('DIFFICULTY_START must be within DIFFICULTY_MIN..DIFFICULTY_MAX')
  if (c.stratumTlsPort !== undefined && (c.tlsCertFile === undefined || c.tlsKeyFile === undefined)) {
    fail('STRATUM_TLS_PORT needs TLS_CERT_FILE and TLS_KEY_FILE')
  }
  const pool = scope === 'pool'
  if (pool && c.kaleNetwork !== 'devnet' && c.stellarRpcUrl === undefined) fail(`STELLAR_RPC_URL must be set when KALE_NETWORK is ${String(c.kaleNetwork)}`)
  if (pool && c.kaleNetwork !== 'devnet' && c.masterKey === undefined && c.masterKeyFile === undefined) {
    fail(`MASTER_KEY or MASTER_KEY_FILE must be set when KALE_NETWORK is ${String(c.kaleNetwork)}`)
  }
  // Which one is used must not be a surprise (MASTER_KEY would win silently, even over a missing file).
  if (c.masterKey !== undefined && c.masterKeyFile !== undefined) fail('set one of MASTER_KEY and MASTER_KEY_FILE, not both')
  // The embedded database (PGlite) does not sync its files to disk: a power loss
  // or OS crash can drop committed rows, and a lost payout debit pays twice.
  // Kept for every command: on mainnet an embedded database under DATA_DIR is never the pool's books.
  if (c.kaleNetwork === 'mainnet' && c.databaseUrl === undefined) {
    fail('DATABASE_URL must be set when KALE_NETWORK is mainnet: the embedded database does not sync to disk, and a crash of the machine could lose payout records')
  }
  const ids = 256 ** (c.extranonce1Bytes as number)
  if ((c.sessionsMax as number) > ids) fail(`SESSIONS_MAX must be <= ${ids}: EXTRANONCE1_BYTES=${String(c.extranonce1Bytes)} gives each session one of ${ids} extranonce1 values`)
  // A session finding one share per VARDIFF_TARGET_SECONDS goes that long without
  // one with probability e^-k over k targets: closing it as idle before 5 targets
  // would drop working miners (e^-5 ≈ 0.7 % of windows; at 1 target, 37 %).
  if ((c.sessionIdleSeconds as number) < 5 * (c.vardiffTargetSeconds as number)) {
    fail('SESSION_IDLE_SECONDS must be >= 5 × VARDIFF_TARGET_SECONDS: sessions would be closed as idle while mining at the target rate')
  }
  if (pool && c.kaleNetwork === 'mainnet' && (c.farmers as number) > 0 && c.fundingSecret === undefined) {
    fail('FUNDING_SECRET must be set when KALE_NETWORK is mainnet and FARMERS > 0')
  }
  return c
}

/** Names of the variables that hold secrets (for log redaction and tests). */
export const SECRET_VARS: readonly VarName[] = (Object.entries(SPEC) as [VarName, Spec][]).filter(([, s]) => s.secret).map(([n]) => n)
