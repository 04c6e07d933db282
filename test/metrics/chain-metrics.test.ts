// Chain metrics move as transactions happen: the real Submitter against the
// in-process devnet over HTTP, scraped through the pool's HTTP server.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { Asset, Operation } from '@stellar/stellar-sdk'
import { startDevnet, type Devnet } from '../../src/devnet/index.js'
import { resolveNetwork, type NetworkInfo } from '../../src/chain/network.js'
import { RpcClient } from '../../src/chain/rpc.js'
import { LedgerClock } from '../../src/chain/clock.js'
import { Submitter } from '../../src/chain/submitter.js'
import { generateSeed, signerFromSeed, type Signer } from '../../src/chain/signer.js'
import { plantOp } from '../../src/chain/contract.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { startHttpServer, type HttpServer } from '../../src/http/server.js'
import { silentLogger } from '../../src/log.js'
import { MemoryView } from '../http/memory-view.js'

let devnet: Devnet
let http: HttpServer
let submitter: Submitter
let net: NetworkInfo
let farmer: Signer

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

beforeAll(async () => {
  devnet = await startDevnet({ port: 0, ledgerMs: 50 })
  const metrics = createMetrics()
  net = await resolveNetwork({ kaleNetwork: 'devnet', rpcUrl: devnet.info.rpcUrl, timeoutMs: 5000 })
  const rpc = new RpcClient(devnet.info.rpcUrl, { timeoutMs: 5000, retriesMax: 2, metrics })
  submitter = new Submitter({ rpc, net, clock: new LedgerClock(), log: silentLogger(), metrics, concurrencyMax: 4, feeInclusionMaxStroops: 10_000, pollMs: 50 })
  http = await startHttpServer({ host: '127.0.0.1', port: 0, view: new MemoryView(), metrics, logger: silentLogger() })
  const { seed } = generateSeed()
  farmer = signerFromSeed(seed)
  const funded = await fetch(`${devnet.info.friendbotUrl}?addr=${farmer.publicKey}`)
  expect(funded.ok).toBe(true)
})
afterAll(async () => {
  await http.close()
  await devnet.close()
})

describe('metrics follow chain transactions on the devnet', () => {
  it('account and plant transactions: counted by op and result, timed, fees summed', async () => {
    const scrape = async () => (await fetch(`${http.url}/metrics`)).text()
    const before = await scrape()
    expect(sample(before, 'kale_pool_chain_transactions_total{op="plant",result="success"}')).toBeUndefined()

    const [code, issuer] = net.asset.split(':') as [string, string]
    const trust = await submitter.submit({ source: farmer, op: 'account', classic: [Operation.changeTrust({ asset: new Asset(code, issuer) })] })
    expect(trust.status).toBe('success')
    const plant = await submitter.submit({ source: farmer, op: 'plant', invoke: plantOp(net.contractId, farmer.publicKey, 0n) })
    expect(plant.status).toBe('success')
    // Planting twice in one block is a contract error: counted under its own result.
    const again = await submitter.submit({ source: farmer, op: 'plant', invoke: plantOp(net.contractId, farmer.publicKey, 0n) })
    expect(again.status).not.toBe('success')

    const after = await scrape()
    expect(sample(after, 'kale_pool_chain_transactions_total{op="account",result="success"}')).toBe(1)
    expect(sample(after, 'kale_pool_chain_transactions_total{op="plant",result="success"}')).toBe(1)
    expect(sample(after, `kale_pool_chain_transactions_total{op="plant",result="${again.status}"}`)).toBe(1)
    expect(sample(after, 'kale_pool_chain_transaction_seconds_count{op="plant"}')).toBe(2)
    expect(sample(after, 'kale_pool_chain_fees_stroops_total{op="plant"}')).toBeGreaterThan(0)
    expect(Number(sample(after, 'kale_pool_chain_fees_stroops_total{op="plant"}'))).toBe(Number(plant.feeStroops) + Number(again.feeStroops))
  })
})
