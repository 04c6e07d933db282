// Regression (review finding 1, "money at scale"): a concurrency slot was held
// until the transaction applied, so only CHAIN_CONCURRENCY_MAX transactions
// landed per ledger and N works took ⌈N/max⌉ ledgers (past the rollover with
// ≳ 150 farmers). The slot now covers build/simulate/sign/send only: many
// sources with a small concurrencyMax all land within a couple of ledgers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Asset, Keypair, Operation, xdr } from '@stellar/stellar-sdk'
import { LedgerClock } from '../../src/chain/clock.js'
import { RpcClient } from '../../src/chain/rpc.js'
import { signerFromSeed } from '../../src/chain/signer.js'
import { Submitter } from '../../src/chain/submitter.js'
import type { Devnet } from '../../src/devnet/index.js'
import type { NetworkInfo } from '../../src/chain/network.js'
import { LogCapture, localDevnet } from './harness.js'

const SOURCES = 32
const CONCURRENCY_MAX = 4
const LEDGER_MS = 250

describe('submitter concurrency slots', () => {
  let dev: Devnet
  let net: NetworkInfo

  beforeAll(async () => {
    ;({ dev, net } = await localDevnet({ ledgerMs: LEDGER_MS, seed: 'slots' }))
  })
  afterAll(async () => {
    await dev?.close()
  })

  it(`${SOURCES} sources with concurrencyMax ${CONCURRENCY_MAX} land within a couple of ledgers, not ${SOURCES / CONCURRENCY_MAX}`, async () => {
    const kps = Array.from({ length: SOURCES + 1 }, () => Keypair.random())
    await Promise.all(kps.map(async (kp) => {
      const res = await fetch(`${dev.info.friendbotUrl}?addr=${kp.publicKey()}`)
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }))
    const dest = kps.pop()!.publicKey()
    const rpc = new RpcClient(net.rpcUrl, { timeoutMs: 5000, retriesMax: 2 })
    const clock = new LedgerClock()
    const submitter = new Submitter({ rpc, net, clock, log: new LogCapture().logger, concurrencyMax: CONCURRENCY_MAX, feeInclusionMaxStroops: 10_000, pollMs: LEDGER_MS })
    await submitter.preload(kps.map((k) => k.publicKey()))
    const results = await Promise.all(kps.map((kp) => submitter.submit({
      source: signerFromSeed(Buffer.from(kp.rawSecretKey())),
      op: 'payout',
      classic: [Operation.payment({ destination: dest, asset: Asset.native(), amount: '1' }) as unknown as xdr.Operation],
    })))
    const ledgers = results.map((r) => (r.status === 'success' ? r.ledger : -1))
    expect(ledgers.filter((l) => l < 0), JSON.stringify(results.filter((r) => r.status !== 'success'))).toEqual([])
    const spread = Math.max(...ledgers) - Math.min(...ledgers)
    // with the slot held through the wait: ≥ SOURCES / CONCURRENCY_MAX - 1 = 7 ledgers apart
    expect(spread, `ledgers ${JSON.stringify(ledgers)}`).toBeLessThanOrEqual(2)
  }, 60_000)
})
