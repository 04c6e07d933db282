// Regression (issue 8, crash test): a devnet restarted on its data directory
// still answers getTransaction for what it applied before, as a real network's
// RPC does for a crashed client. Without it an applied payout looked unapplied.
import { describe, it, expect } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Keypair, TransactionBuilder, Operation } from '@stellar/stellar-sdk'
import { devnet, kaleAsset, submit } from './helpers.js'
import { TX_LOG_FILE } from '../../src/devnet/tx-log.js'

describe('devnet transaction history across a restart', () => {
  it('answers getTransaction for transactions applied before the restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kale-txlog-'))
    const first = await devnet({ dataDir })
    const kp = Keypair.random()
    await first.server.requestAirdrop(kp.publicKey())
    const account = await first.server.getAccount(kp.publicKey())
    const tx = new TransactionBuilder(account, { fee: '100', networkPassphrase: first.net.info.networkPassphrase })
      .addOperation(Operation.changeTrust({ asset: kaleAsset(first.net) }))
      .setTimeout(30)
      .build()
    tx.sign(kp)
    const done = await submit(first.server, tx)
    expect(done.status).toBe('SUCCESS')
    const hash = Buffer.from(tx.hash()).toString('hex')
    await first.net.close()
    expect(fs.existsSync(path.join(dataDir, TX_LOG_FILE))).toBe(true)

    const second = await devnet({ dataDir })
    try {
      const again = await second.server.getTransaction(hash)
      expect(again.status).toBe('SUCCESS')
      if (again.status !== 'SUCCESS' || done.status !== 'SUCCESS') throw new Error('unreachable')
      expect(again.ledger).toBe(done.ledger)
      expect(again.envelopeXdr.toXDR('base64')).toBe(done.envelopeXdr.toXDR('base64'))
      const health = await second.server.getHealth()
      expect(health.oldestLedger).toBeLessThanOrEqual(done.ledger)
      expect((await second.server.getTransaction('ab'.repeat(32))).status).toBe('NOT_FOUND')
    } finally {
      await second.net.close()
    }
  })

  it('survives a torn last line (a crash mid-append)', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kale-txlog-'))
    const first = await devnet({ dataDir })
    const kp = Keypair.random()
    await first.server.requestAirdrop(kp.publicKey())
    await first.net.close()
    fs.appendFileSync(path.join(dataDir, TX_LOG_FILE), '{"ledger": 99999, "closeTime": 1, "txs": [{"hash":')
    const second = await devnet({ dataDir })
    const other = Keypair.random()
    try {
      expect((await second.server.getAccount(kp.publicKey())).accountId()).toBe(kp.publicKey())
      await second.server.requestAirdrop(other.publicKey())
    } finally {
      await second.net.close()
    }
    // what was appended after the tear is readable on the next start
    const lines = fs.readFileSync(path.join(dataDir, TX_LOG_FILE), 'utf8').split('\n').filter((l) => l.startsWith('{"ledger"') && l.endsWith('}'))
    expect(lines.length).toBeGreaterThanOrEqual(2)
  })
})
