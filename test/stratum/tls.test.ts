// The optional TLS port speaks the same protocol (self-signed certificate made with openssl).
import { describe, it, expect } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StratumClient } from '../../src/miner/client.js'
import { startServer, PAYOUT, blockEvent, farmerAddress } from './helpers.js'

describe('TLS', () => {
  it('serves subscribe/authorize/notify on STRATUM_TLS_PORT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kale-tls-'))
    const key = join(dir, 'key.pem')
    const cert = join(dir, 'cert.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
    const s = await startServer({ stratumTlsPort: 0, tlsCertFile: cert, tlsKeyFile: key })
    const c = new StratumClient({ url: `stratum+ssl://127.0.0.1:${s.tlsPort!}`, user: PAYOUT, reconnect: false })
    try {
      s.server.onBlock(blockEvent(2))
      s.server.onPlanted({ index: 2, farmers: [farmerAddress()] })
      const job = new Promise((r) => c.once('job', r))
      await c.connect()
      expect(c.extranonce1Hex).toMatch(/^[0-9a-f]{6}$/)
      expect(await job).toMatchObject({ index: 2, cleanJobs: true })
    } finally {
      c.close()
      await s.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
