// `kale-pool start` (npm start): the pool, until SIGINT/SIGTERM.
import { loadConfig } from '../config.js'
import { createLogger, registerSecrets } from '../log.js'
import { startPool } from '../main.js'

function hostForMiners(bind: string): string {
  return bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind
}

export async function run(argv: readonly string[]): Promise<number> {
  if (argv.length > 0) {
    process.stderr.write(`kale-pool start: takes no arguments (configure with environment variables; see README)\n`)
    return 2
  }
  const config = loadConfig(process.env)
  registerSecrets([config.adminToken, config.masterKey, config.fundingSecret, config.databaseUrl, config.stellarRpcUrl])
  const log = createLogger(config.logLevel)
  const pool = await startPool(config, { log })
  const host = hostForMiners(config.stratumHost)
  const summary = {
    network: pool.net.name,
    rpc: withoutCredentials(pool.net.rpcUrl),
    stratum: `stratum+tcp://${host}:${pool.stratumPort}`,
    http: pool.httpUrl,
    database: pool.db.where,
    dataDir: config.dataDir,
  }
  process.stderr.write(
    `kale-pool is running\n` +
      Object.entries(summary).map(([k, v]) => `  ${k.padEnd(9)} ${v}\n`).join('') +
      `quick guide: npx kale-pool mine --url stratum+tcp://${host}:${pool.stratumPort} --user <your G-address>[.worker]\n`,
  )
  await new Promise<void>((resolve) => {
    let signals = 0
    const onSignal = (sig: NodeJS.Signals): void => {
      if (++signals > 1) {
        log.warn({ sig }, 'second signal: exiting now')
        process.exit(130)
      }
      log.info({ sig }, 'shutting down')
      pool.stop().then(resolve, (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        resolve()
      })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  return 0
}

/** An RPC URL for the banner: scheme and host only (providers put API keys in the user, path or query). */
export function withoutCredentials(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}/${u.pathname.length > 1 ? '…' : ''}${u.search ? '?…' : ''}`
  } catch {
    return '(unparsable URL)'
  }
}
