// Test databases: the real server when DATABASE_URL is set (each test file in its
// own schema, dropped at the end, so parallel files and runs never collide), the
// embedded PGlite otherwise (in memory, one per file; PGlite ignores the
// search_path startup parameter, so the embedded case uses the default schema).
import { randomBytes } from 'node:crypto'
import { openDb, type Db } from '../../src/ledger/db.js'
import { migrate } from '../../src/ledger/migrate.js'

export const DATABASE_URL = process.env.DATABASE_URL || undefined

export interface TestDb extends Db {
  schema: string
  /** Drops the schema (real server) and closes. */
  dispose(): Promise<void>
}

export function uniqueSchema(name: string): string {
  return `t_${name}_${process.pid}_${randomBytes(3).toString('hex')}`
}

export async function openTestDb(name: string, opts: { migrate?: boolean; embeddedConnectionsMax?: number } = {}): Promise<TestDb> {
  const schema = DATABASE_URL ? uniqueSchema(name) : 'public'
  const db = await openDb({
    databaseUrl: DATABASE_URL,
    dataDir: null,
    ...(DATABASE_URL ? { schema } : {}),
    poolMax: 4,
    connectTimeoutSeconds: 2,
    ...(opts.embeddedConnectionsMax === undefined ? {} : { embeddedConnectionsMax: opts.embeddedConnectionsMax }),
  })
  if (opts.migrate !== false) await migrate(db.sql)
  return {
    ...db,
    sql: db.sql,
    embedded: db.embedded,
    where: db.where,
    close: () => db.close(),
    schema,
    dispose: async () => {
      if (DATABASE_URL) await db.sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {})
      await db.close()
    },
  }
}

/** The URL another process uses to reach this test database (same schema via --schema). */
export function urlOf(db: Db): string {
  if (DATABASE_URL) return DATABASE_URL
  return `postgres://postgres:postgres@127.0.0.1:${db.embedded!.port}/postgres`
}
