import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { holdPoolLock, openDb } from '../../src/ledger/db.js'
import { migrate, loadMigrations, sqlDir } from '../../src/ledger/migrate.js'
import { isPoolError } from '../../src/errors.js'
import { DATABASE_URL, openTestDb, urlOf, type TestDb } from './db.js'

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname

function runMigrate(url: string | undefined, schema: string | undefined, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'migrate', ...(schema === undefined ? [] : ['--schema', schema])], {
      env: { ...process.env, DATABASE_URL: url ?? '', LOG_LEVEL: 'silent', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
}

describe('migrations', () => {
  let db: TestDb
  beforeAll(async () => {
    db = await openTestDb('migrate', { migrate: false, embeddedConnectionsMax: 4 })
  })
  afterAll(async () => {
    await db?.dispose()
  })

  it('apply from empty, then are a no-op', async () => {
    const first = await migrate(db.sql)
    expect(first).toEqual(loadMigrations().map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`))
    expect(first.length).toBeGreaterThan(0)
    expect(await migrate(db.sql)).toEqual([])
    const rows = await db.sql`SELECT version FROM schema_migrations ORDER BY version`
    expect(rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version))
  })

  it('refuse a migration file changed after it was applied', async () => {
    const changed = loadMigrations().map((m) => ({ ...m, sha256: '0'.repeat(64) }))
    const err = await migrate(db.sql, changed).catch((e: unknown) => e)
    expect(isPoolError(err, 'DATABASE_MIGRATION')).toBe(true)
    expect((err as Error).message).toMatch(/changed after it was applied/)
  })

  it('refuse to run on a schema newer than the code', async () => {
    const err = await migrate(db.sql, loadMigrations().slice(0, 0)).catch((e: unknown) => e)
    expect(isPoolError(err, 'DATABASE_MIGRATION')).toBe(true)
    expect((err as Error).message).toMatch(/does not know/)
  })

  it('a failing migration leaves nothing behind (one transaction)', async () => {
    const broken = [...loadMigrations(), { version: 998, name: 'half', text: 'CREATE TABLE half_done (a int); SELECT * FROM no_such_table;', sha256: 'x' }]
    await expect(migrate(db.sql, broken)).rejects.toThrow(/no_such_table/)
    const t = await db.sql`SELECT to_regclass('half_done') AS t`
    expect(t[0]!.t).toBeNull()
    const v = await db.sql`SELECT count(*)::int AS n FROM schema_migrations WHERE version = 998`
    expect(v[0]!.n).toBe(0)
    expect(sqlDir()).toMatch(/sql$/)
  })

  it('two processes migrating the same empty schema at once apply everything exactly once', async () => {
    // A fresh database whose own connection stays idle meanwhile (PGlite is one
    // backend session shared by every socket connection).
    const fresh = await openTestDb('migrate_two', { migrate: false, embeddedConnectionsMax: 4 })
    const schema = DATABASE_URL ? fresh.schema : undefined
    const url = urlOf(fresh)
    const [a, b] = await Promise.all([runMigrate(url, schema), runMigrate(url, schema)])
    expect(a.err + b.err).toBe('')
    expect([a.code, b.code]).toEqual([0, 0])
    const outs = [a.out, b.out]
    // exactly one of them applied the migrations, the other found them applied
    expect(outs.filter((o) => /applied 001_ledger/.test(o))).toHaveLength(1)
    expect(outs.filter((o) => /up to date/.test(o))).toHaveLength(1)
    try {
      const rows = await fresh.sql.unsafe(`SELECT count(*)::int AS n FROM ${fresh.schema}.schema_migrations`)
      expect(rows[0]!.n).toBe(loadMigrations().length)
    } finally {
      await fresh.dispose()
    }
  })

  it('the balance ledger is append-only', async () => {
    await db.sql`INSERT INTO balance_entries (miner, amount_stroops, kind, cause) VALUES ('GA', 5, 'reward', 'reward:1:GA')`
    await expect(db.sql`UPDATE balance_entries SET amount_stroops = 6`).rejects.toThrow(/append-only/)
    await expect(db.sql`DELETE FROM balance_entries`).rejects.toThrow(/append-only/)
    await expect(db.sql`INSERT INTO balance_entries (miner, amount_stroops, kind, cause) VALUES ('GA', 5, 'reward', 'reward:1:GA')`).rejects.toThrow(/duplicate|unique/i)
    await expect(db.sql`INSERT INTO balance_entries (miner, amount_stroops, kind, cause) VALUES ('GA', 5, 'payout', 'payout:1:GA')`).rejects.toThrow(/check/i)
  })
})

// One running pool per database schema (holdPoolLock). A PostgreSQL server only:
// the embedded database is one session for every connection (a lock taken twice
// there is the same session's), and DATA_DIR's lock guards it; so this test is
// registered in the run against DATABASE_URL (CI's second run of test/ledger).
if (DATABASE_URL) {
  it('one pool per database schema: a second is refused until the first ends; another schema is free', async () => {
    const [a, b] = [await openTestDb('lock_a', { migrate: false }), await openTestDb('lock_b', { migrate: false })]
    const schema = a.schema
    const lock = (s: string) => holdPoolLock({ databaseUrl: DATABASE_URL, schema: s, connectTimeoutSeconds: 2 })
    const first = await lock(schema)
    try {
      const refused = await lock(schema).then(() => undefined, (err: unknown) => err)
      expect(isPoolError(refused, 'LOCKED')).toBe(true)
      expect((refused as Error).message).toBe(`another kale-pool is running on this database (schema ${schema}): stop it first; one pool per database`)
      const other = await lock(b.schema) // another schema: another pool
      await other.release()
    } finally {
      await first.release()
    }
    try {
      const second = await lock(schema) // gone with the first one's session
      await second.release()
    } finally {
      await Promise.all([a.dispose(), b.dispose()])
    }
  })
}

describe('the embedded database', () => {
  it('keeps its data under DATA_DIR/pg across a restart, migrations included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kale-pg-'))
    try {
      const a = await openDb({ dataDir: dir })
      expect(a.where).toMatch(/embedded PGlite/)
      expect(a.where).not.toMatch(/password/)
      expect((await migrate(a.sql)).length).toBeGreaterThan(0)
      await a.sql`INSERT INTO miners (address, first_share_at, last_share_at) VALUES ('GKEEP', now(), now())`
      await a.close()
      expect(existsSync(join(dir, 'pg'))).toBe(true)
      const b = await openDb({ dataDir: dir })
      try {
        expect(await migrate(b.sql)).toEqual([])
        expect((await b.sql`SELECT address FROM miners`).map((r) => r.address)).toEqual(['GKEEP'])
      } finally {
        await b.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('kale-pool migrate runs on the embedded database under DATA_DIR and refuses while a pool holds the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kale-migrate-cli-'))
    try {
      const first = await runMigrate(undefined, undefined, { DATA_DIR: dir })
      expect(first.err).toBe('')
      expect(first.out).toMatch(/embedded PGlite .* applied 001_ledger/)
      expect(existsSync(join(dir, 'kale-pool.lock'))).toBe(false) // released
      writeFileSync(join(dir, 'kale-pool.lock'), `${process.pid}\n`) // a live "pool" (this process)
      const second = await runMigrate(undefined, undefined, { DATA_DIR: dir })
      expect(second.code).toBe(1)
      expect(second.err).toMatch(/another kale-pool \(pid \d+\) is running/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('kale-pool migrate off the devnet needs only the database settings, not the master key or the RPC URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kale-migrate-testnet-'))
    try {
      const r = await runMigrate(undefined, undefined, { DATA_DIR: dir, KALE_NETWORK: 'testnet' })
      expect(r.err).toBe('')
      expect([r.code, /applied 001_ledger/.test(r.out)]).toEqual([0, true])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a schema name that is not an identifier', async () => {
    await expect(openDb({ dataDir: null, schema: 'x; DROP TABLE y' })).rejects.toThrow(/schema must match/)
  })
})
