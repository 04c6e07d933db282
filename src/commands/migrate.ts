// `kale-pool migrate [--schema NAME]`: applies the database migrations and exits.
// Uses the same connection as the pool (DATABASE_URL, or the embedded database
// under DATA_DIR); prints what it applied.
import { parseArgs, argError } from '../args.js'
import { loadConfig } from '../config.js'
import { openDb } from '../ledger/db.js'
import { migrate } from '../ledger/migrate.js'
import { lockDataDir } from '../lockfile.js'

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/

export async function run(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, ['schema'])
  if (args.positionals.length > 0) throw argError(`unexpected argument "${args.positionals[0]}"`)
  const schema = args.flags.get('schema')
  if (schema === true || (schema !== undefined && !SCHEMA_PATTERN.test(schema))) throw argError('--schema must match [a-z_][a-z0-9_]{0,62}')
  // Only the database settings matter here: no master key or RPC URL is asked for.
  const config = loadConfig(process.env, 'database')
  const databaseUrl = config.databaseUrl as string | undefined
  // The embedded database must never be opened by two processes: take the
  // data directory's lock, as `kale-pool start` does (fails fast if it runs).
  const lock = databaseUrl === undefined ? lockDataDir(String(config.dataDir)) : null
  const db = await openDb({ databaseUrl, dataDir: String(config.dataDir), poolMax: 1, ...(schema === undefined ? {} : { schema }) }).catch((err: unknown) => {
    lock?.release()
    throw err
  })
  try {
    const applied = await migrate(db.sql)
    process.stdout.write(applied.length === 0 ? `migrate: ${db.where}: up to date\n` : `migrate: ${db.where}: applied ${applied.join(', ')}\n`)
    return 0
  } finally {
    await db.close()
    lock?.release()
  }
}
