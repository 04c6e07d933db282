// Regression (review): the resource fee a simulation asks was signed whatever
// it was. A faulty or hostile RPC answering resourceFee = 400 XLM had it charged
// to the farmer account. Above FEE_RESOURCE_MAX_STROOPS nothing is signed now.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Keypair } from '@stellar/stellar-sdk'
import { LedgerClock } from '../../src/chain/clock.js'
import { RpcClient } from '../../src/chain/rpc.js'
import { signerFromSeed } from '../../src/chain/signer.js'
import { Submitter, FEE_RESOURCE_MAX_STROOPS_DEFAULT } from '../../src/chain/submitter.js'
import { plantOp } from '../../src/chain/contract.js'
import type { Devnet } from '../../src/devnet/index.js'
import type { NetworkInfo } from '../../src/chain/network.js'
import { LogCapture, localDevnet } from './harness.js'
import { rpcProxy, type RpcProxy } from './rpc-proxy.js'

const LEDGER_MS = 200
const HOSTILE_FEE_STROOPS = 4_000_000_000n

describe('the resource fee a simulation asks', () => {
  let dev: Devnet
  let net: NetworkInfo
  let proxy: RpcProxy
  let hostile = false
  beforeAll(async () => {
    ;({ dev, net } = await localDevnet({ ledgerMs: LEDGER_MS, seed: 'resource-fee' }))
    // While `hostile`, every simulation asks HOSTILE_FEE_STROOPS (the last 8 bytes of its SorobanTransactionData).
    proxy = await rpcProxy(net.rpcUrl, (method, _params, result) => {
      if (!hostile || method !== 'simulateTransaction' || typeof result.transactionData !== 'string') return
      const data = Buffer.from(result.transactionData, 'base64')
      data.writeBigInt64BE(HOSTILE_FEE_STROOPS, data.length - 8)
      result.transactionData = data.toString('base64')
    })
  })
  afterAll(async () => {
    await proxy?.close()
    await dev?.close()
  })

  it('above FEE_RESOURCE_MAX_STROOPS: nothing signed or sent, a failure naming the cap; below it the same request goes through', async () => {
    expect(HOSTILE_FEE_STROOPS).toBeGreaterThan(BigInt(FEE_RESOURCE_MAX_STROOPS_DEFAULT))
    const kp = Keypair.random()
    const res = await fetch(`${dev.info.friendbotUrl}?addr=${kp.publicKey()}`)
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    const source = signerFromSeed(Buffer.from(kp.rawSecretKey()))
    const rpc = new RpcClient(proxy.url, { timeoutMs: 5000, retriesMax: 2 })
    const submitter = new Submitter({ rpc, net, clock: new LedgerClock(), log: new LogCapture().logger, concurrencyMax: 4, feeInclusionMaxStroops: 10_000, pollMs: LEDGER_MS })
    const sent: string[] = []
    hostile = true
    const refused = await submitter.submit({ source, op: 'plant', invoke: plantOp(net.contractId, kp.publicKey(), 0n), onSend: async (h) => void sent.push(h) })
    expect(refused.status).toBe('failed')
    expect(refused.status === 'failed' && refused.reason).toMatch(/resource fee of 4000000000 stroops, above FEE_RESOURCE_MAX_STROOPS \(10000000\): not signed/)
    expect([sent, submitter.sent]).toEqual([[], 0])
    hostile = false
    const ok = await submitter.submit({ source, op: 'plant', invoke: plantOp(net.contractId, kp.publicKey(), 0n), onSend: async (h) => void sent.push(h) })
    expect(ok.status, JSON.stringify(ok, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).toBe('success')
    expect(sent).toHaveLength(1)
  }, 60_000)
})
