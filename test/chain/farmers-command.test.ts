// `kale-pool farmers add|list` end to end: compiled CLI, embedded PostgreSQL under
// a temporary DATA_DIR, a devnet in its own process. Output never shows a secret.
import { describe, it, expect, afterAll } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../src/ledger/db.js'
import { PgChainStore } from '../../src/ledger/chain-store.js'
import { devnet, secretStrKey } from './harness.js'

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['dist/cli.js', ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr })
    })
  })
}

const dataDir = mkdtempSync(join(tmpdir(), 'kale-farmers-'))

describe('kale-pool farmers', () => {
  let close: (() => Promise<void>) | undefined
  afterAll(async () => { await close?.() })

  it('rejects bad usage with exit 2 and a one-line message', async () => {
    for (const args of [['farmers'], ['farmers', 'add'], ['farmers', 'add', '0'], ['farmers', 'add', 'x'], ['farmers', 'add', '2', '--stake-percent', '101'], ['farmers', 'list', 'extra'], ['farmers', 'remove']]) {
      const r = await cli(args, { DATA_DIR: dataDir })
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.err.trim().split('\n')).toHaveLength(1)
    }
  })

  it('list off the devnet needs no master key or RPC URL (it shows public data only); add still does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kale-farmers-testnet-'))
    const list = await cli(['farmers', 'list'], { DATA_DIR: dir, KALE_NETWORK: 'testnet' })
    expect([list.code, list.err, list.out]).toEqual([0, '', '0 farmers (0 active)\n'])
    const add = await cli(['farmers', 'add', '1'], { DATA_DIR: dir, KALE_NETWORK: 'testnet' })
    expect(add.code).not.toBe(0)
    expect(add.err).toMatch(/STELLAR_RPC_URL must be set when KALE_NETWORK is testnet/)
  })

  it('refuses to open the embedded database of a running pool (its keys would be lost), pointing at POST /api/farmers', async () => {
    const busy = mkdtempSync(join(tmpdir(), 'kale-farmers-locked-'))
    // A live process (this one) holds the data directory, as a running pool does.
    writeFileSync(join(busy, 'kale-pool.lock'), `${process.pid}\n`)
    for (const args of [['farmers', 'list'], ['farmers', 'add', '1']]) {
      const r = await cli(args, { DATA_DIR: busy, KALE_NETWORK: 'devnet' })
      expect(r.code, args.join(' ')).not.toBe(0)
      expect(r.err).toMatch(new RegExp(`another kale-pool \\(pid ${process.pid}\\) is running.*POST /api/farmers`))
      expect(r.out).toBe('')
    }
    expect(existsSync(join(busy, 'pg'))).toBe(false)
  })

  it('adds funded, trusted farmers and lists them without secrets', async () => {
    const { dev, net } = await devnet({ ledgerMs: 100, seed: 'farmers-cmd' })
    close = dev.close
    const env = { DATA_DIR: dataDir, KALE_NETWORK: 'devnet', STELLAR_RPC_URL: net.rpcUrl }
    const add = await cli(['farmers', 'add', '2', '--stake-percent', '5'], env)
    expect(add.err).toBe('')
    expect(add.code).toBe(0)
    const added = add.out.split('\n').filter((l) => /^G[A-Z2-7]{55}$/.test(l))
    expect(added).toHaveLength(2)
    expect(add.out).toMatch(/added 2 farmers on devnet \(stake 5%\)/)
    const list = await cli(['farmers', 'list'], env)
    expect(list.code).toBe(0)
    for (const pk of added) expect(list.out).toContain(pk)
    expect(list.out).toMatch(/2 farmers \(2 active\)/)
    // one more add with every log line on: the logs are searched too
    const loud = await cli(['farmers', 'add', '1'], { ...env, LOG_LEVEL: 'debug' })
    expect(loud.code, loud.err).toBe(0)
    const output = [add, list, loud].map((r) => r.out + r.err).join('\n')
    expect(output).not.toMatch(/\bS[A-Z2-7]{55}\b/)
    // the generated master key decrypts the stored rows only here: no farmer's seed appears in any output
    const master = Buffer.from(readFileSync(join(dataDir, 'master.key'), 'utf8').trim(), 'hex')
    expect(master.length).toBe(32)
    const db = await openDb({ dataDir })
    try {
      const rows = await new PgChainStore(db.sql).listFarmers()
      expect(rows.map((r) => r.publicKey).sort()).toEqual([...added, ...loud.out.split('\n').filter((l) => /^G[A-Z2-7]{55}$/.test(l))].sort())
      for (const r of rows) {
        const seed = secretStrKey(master, r.publicKey, r.encryptedSecret)
        expect(seed).toMatch(/^S[A-Z2-7]{55}$/)
        expect(output).not.toContain(seed)
        expect(r.encryptedSecret).not.toContain(seed)
      }
    } finally {
      await db.close()
    }
  }, 180_000)
})
