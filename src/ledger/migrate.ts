// Forward-only migrations: sql/NNN_name.sql applied in order, all in one
// transaction under a transaction-scoped advisory lock, so two processes starting
// at once serialize (the second finds everything applied). A file already applied
// must not change: its sha256 is recorded and checked.
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Sql } from './db.js'
import { PoolError, ErrorCode } from '../errors.js'

/** pg_advisory_xact_lock key: "kale" in ASCII. */
export const MIGRATION_LOCK_KEY = 0x6b616c65
const FILE_PATTERN = /^(\d{3})_([a-z0-9_]+)\.sql$/
const SEARCH_LEVELS_MAX = 5

export interface Migration {
  version: number
  name: string
  text: string
  sha256: string
}

/** The sql/ directory shipped with the package (found from dist/ or dist-bench/). */
export function sqlDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < SEARCH_LEVELS_MAX; i++) {
    const candidate = join(dir, 'sql')
    if (existsSync(join(candidate, '001_ledger.sql'))) return candidate
    dir = dirname(dir)
  }
  throw new PoolError(ErrorCode.DATABASE_MIGRATION, 'sql/ migrations directory not found')
}

export function loadMigrations(dir = sqlDir()): Migration[] {
  const out: Migration[] = []
  for (const file of readdirSync(dir).sort()) {
    const m = FILE_PATTERN.exec(file)
    if (!m) continue
    const text = readFileSync(join(dir, file), 'utf8')
    const version = Number(m[1])
    if (out.some((x) => x.version === version)) throw new PoolError(ErrorCode.DATABASE_MIGRATION, `two migrations numbered ${m[1]}`)
    out.push({ version, name: m[2]!, text, sha256: createHash('sha256').update(text).digest('hex') })
  }
  return out
}

/** Applies what is missing; returns the names applied (empty when up to date). */
export async function migrate(sql: Sql, migrations = loadMigrations()): Promise<string[]> {
  const applied: string[] = []
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version int4 PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
    const rows = await tx<{ version: number; name: string; sha256: string }[]>`SELECT version, name, sha256 FROM schema_migrations`
    const done = new Map(rows.map((r) => [r.version, r]))
    const known = new Set(migrations.map((m) => m.version))
    for (const r of rows) {
      if (!known.has(r.version)) {
        throw new PoolError(ErrorCode.DATABASE_MIGRATION, `database has migration ${r.version} (${r.name}) that this version does not know: refusing to run older code on a newer schema`)
      }
    }
    for (const m of migrations) {
      const prior = done.get(m.version)
      if (prior) {
        if (prior.sha256 !== m.sha256) throw new PoolError(ErrorCode.DATABASE_MIGRATION, `migration ${m.version}_${m.name} changed after it was applied`)
        continue
      }
      // Simple-query protocol: a file holds many statements (and $$ bodies).
      await tx.unsafe(m.text).simple()
      await tx`INSERT INTO schema_migrations (version, name, sha256) VALUES (${m.version}, ${m.name}, ${m.sha256})`
      applied.push(`${String(m.version).padStart(3, '0')}_${m.name}`)
    }
  })
  return applied
}
