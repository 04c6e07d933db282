// The ledger's one connection to PostgreSQL. DATABASE_URL when set; otherwise an
// embedded PostgreSQL (PGlite, data under DATA_DIR/pg) served on a loopback port
// by pglite-socket, and postgres.js talks to it exactly as to a real server, so
// the same SQL runs on both. int8 values are read as bigint: money never passes
// through a JS double.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { PoolError, ErrorCode } from '../errors.js'

/** postgres.js with int8 read and written as bigint. */
export type Sql = postgres.Sql<{ bigint: bigint }>
export type Tx = postgres.TransactionSql<{ bigint: bigint }>

export interface DbOptions {
  /** postgres:// URL; unset = embedded PGlite under `dataDir/pg`. */
  databaseUrl?: string | undefined
  /** Where the embedded database lives (DATA_DIR). `null` = in memory (tests). */
  dataDir: string | null
  /** Connections at most to a real server (PGlite always gets 1). */
  poolMax?: number
  /** Schema the connection works in (tests give each file its own). */
  schema?: string
  connectTimeoutSeconds?: number
  idleTimeoutSeconds?: number
  /** Server-side statement timeout (a hung query fails instead of blocking a flush forever). */
  statementTimeoutMs?: number
  /** Embedded only: client connections the socket server admits (tests let other processes in). */
  embeddedConnectionsMax?: number
}

/** The embedded server, exposed so tests can take it away and bring it back. */
export interface Embedded {
  readonly port: number
  /** Stop listening and drop connections (the database looks down). */
  stop(): Promise<void>
  /** Listen again on the same port. */
  start(): Promise<void>
}

export interface Db {
  readonly sql: Sql
  readonly embedded: Embedded | null
  /** Where it connects, without credentials (for logs). */
  readonly where: string
  close(): Promise<void>
}

const CONNECT_TIMEOUT_SECONDS = 5
const IDLE_TIMEOUT_SECONDS = 30
const STATEMENT_TIMEOUT_MS = 30_000
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/

/** postgres.js options shared by both back ends. */
function clientOptions(o: DbOptions, max: number): postgres.Options<Record<string, postgres.PostgresType>> {
  if (o.schema !== undefined && !SCHEMA_PATTERN.test(o.schema)) {
    throw new PoolError(ErrorCode.ARGUMENT_INVALID, 'schema must match [a-z_][a-z0-9_]{0,62}')
  }
  const connection: Record<string, string> = {
    application_name: 'kale-pool',
    statement_timeout: String(o.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS),
  }
  if (o.schema !== undefined) connection.search_path = o.schema
  return {
    max,
    connect_timeout: o.connectTimeoutSeconds ?? CONNECT_TIMEOUT_SECONDS,
    idle_timeout: o.idleTimeoutSeconds ?? IDLE_TIMEOUT_SECONDS,
    // int8 (counts, stroops, block indexes) as bigint; numeric stays a string and
    // is parsed exactly where it is read (ledger/amounts.ts).
    types: { bigint: postgres.BigInt },
    connection,
    onnotice: () => {},
    // Prepared statements are cached per connection; harmless on both back ends.
    prepare: true,
  }
}

/** Opens the ledger database. Creates `schema` when given. */
export async function openDb(o: DbOptions): Promise<Db> {
  clientOptions(o, 1) // validates the options before anything starts
  const db = o.databaseUrl ? openServer(o) : await openEmbedded(o)
  try {
    if (o.schema !== undefined) await db.sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${o.schema}`)
    else await db.sql`SELECT 1`
  } catch (err) {
    await db.close().catch(() => {})
    throw unavailable(err)
  }
  return db
}

/** First half of the pool's advisory lock key ("kale"); the second is the schema's hash. */
export const POOL_LOCK_KEY = 0x6b616c65

/**
 * One running pool per database schema. Two would both run the block cycle for
 * the same farmer accounts (competing for their sequence numbers) and both run
 * payouts; the DATA_DIR lock cannot see a second machine. A session-level
 * advisory lock on a connection of its own, outside the pool's DATABASE_POOL_MAX
 * (a reserved pool connection left a pool of 1 with none: start hung), held for
 * the pool's life and gone with the process. Only for a PostgreSQL server: the
 * embedded database has one session for everyone, and DATA_DIR's lock guards
 * it. Should the connection drop, the lock goes with it: it guards against
 * starting twice, it is not an election. (Behind PgBouncer in transaction mode
 * a session lock protects nothing: point DATABASE_URL at PostgreSQL itself.)
 */
export async function holdPoolLock(o: Pick<DbOptions, 'databaseUrl' | 'schema' | 'connectTimeoutSeconds'>): Promise<{ release(): Promise<void> }> {
  const base = clientOptions({ ...o, dataDir: null }, 1)
  // No idle timeout and no lifetime: the connection is the lock.
  const sql = postgres(o.databaseUrl!, { ...base, idle_timeout: 0, max_lifetime: null }) as unknown as Sql
  const end = () => sql.end({ timeout: 2 }).catch(() => {})
  try {
    const [r] = await sql<{ ok: boolean; schema: string }[]>`
      SELECT pg_try_advisory_lock(${POOL_LOCK_KEY}, hashtext(coalesce(current_schema(), ''))) AS ok, coalesce(current_schema(), '(none)') AS schema`
    if (!r!.ok) throw new PoolError(ErrorCode.LOCKED, `another kale-pool is running on this database (schema ${r!.schema}): stop it first; one pool per database`)
  } catch (err) {
    await end()
    throw err instanceof PoolError ? err : unavailable(err)
  }
  // Ending the session ends the lock: no unlock round trip that a dead server could hold up.
  return { release: end }
}

function openServer(o: DbOptions): Db {
  const url = o.databaseUrl!
  const sql = postgres(url, clientOptions(o, o.poolMax ?? 10)) as unknown as Sql
  let where = 'postgres'
  try {
    const u = new URL(url)
    where = `postgres://${u.hostname}:${u.port || '5432'}${u.pathname}`
  } catch {
    // The URL passed config validation; a parse failure only costs the log line.
  }
  return { sql, embedded: null, where, close: () => sql.end({ timeout: 5 }) }
}

async function openEmbedded(o: DbOptions): Promise<Db> {
  // Loaded lazily: a deployment with DATABASE_URL never pays for the WASM build.
  const { PGlite } = await import('@electric-sql/pglite')
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')
  let dataDir: string | undefined
  if (o.dataDir !== null) {
    dataDir = join(o.dataDir, 'pg')
    mkdirSync(dataDir, { recursive: true })
  }
  const pg = await PGlite.create(dataDir === undefined ? {} : { dataDir })
  // PGlite is one backend session shared by whatever connects, and it ignores
  // startup parameters: the schema is set on the session itself.
  if (o.schema !== undefined) {
    await pg.exec(`CREATE SCHEMA IF NOT EXISTS ${o.schema}; SET search_path TO ${o.schema}`)
  }
  let server: InstanceType<typeof PGLiteSocketServer> | null = null
  let port = 0
  const start = async (): Promise<void> => {
    if (server) return
    const s = new PGLiteSocketServer({ db: pg, host: '127.0.0.1', port, maxConnections: o.embeddedConnectionsMax ?? 1 })
    await s.start()
    port = Number(s.getServerConn().split(':').pop())
    server = s
  }
  const stop = async (): Promise<void> => {
    const s = server
    server = null
    if (s) await s.stop()
  }
  await start()
  // PGlite executes one connection's queries at a time: one client connection.
  const sql = postgres({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres', ...clientOptions(o, 1) }) as unknown as Sql
  return {
    sql,
    embedded: { get port() { return port }, stop, start },
    where: `embedded PGlite (${dataDir ?? 'in memory'}) on 127.0.0.1:${port}`,
    close: async () => {
      await sql.end({ timeout: 5 }).catch(() => {})
      await stop()
      await pg.close()
    },
  }
}

/** Wraps a driver failure as the project's error (no URL or credentials in it). */
export function unavailable(err: unknown): PoolError {
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  return new PoolError(ErrorCode.DATABASE_UNAVAILABLE, `database unavailable: ${message}`, { code: typeof code === 'string' ? code : undefined }, { cause: err })
}
