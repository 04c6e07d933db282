// invokeLate: an invocation built when the lane's turn comes, after the source's
// earlier transactions ended. The plant phase builds its stake this way when a
// payout from the farmer ended after the batched balance read (a stake read
// before that payout spent the balance failed the plant for one pass).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Asset, Keypair, Operation, xdr } from '@stellar/stellar-sdk'
import { LedgerClock } from '../../src/chain/clock.js'
import { RpcClient } from '../../src/chain/rpc.js'
import { signerFromSeed } from '../../src/chain/signer.js'
import { Submitter } from '../../src/chain/submitter.js'
import { plantOp } from '../../src/chain/contract.js'
import { PoolError, ErrorCode } from '../../src/errors.js'
import type { Devnet } from '../../src/devnet/index.js'
import type { NetworkInfo } from '../../src/chain/network.js'
import { LogCapture, localDevnet } from './harness.js'

const LEDGER_MS = 200

describe('submitter invokeLate', () => {
  let dev: Devnet
  let net: NetworkInfo
  let submitter: Submitter
  const funded = async (): Promise<Keypair> => {
    const kp = Keypair.random()
    const res = await fetch(`${dev.info.friendbotUrl}?addr=${kp.publicKey()}`)
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    return kp
  }

  beforeAll(async () => {
    ;({ dev, net } = await localDevnet({ ledgerMs: LEDGER_MS, seed: 'late' }))
    const rpc = new RpcClient(net.rpcUrl, { timeoutMs: 5000, retriesMax: 2 })
    submitter = new Submitter({ rpc, net, clock: new LedgerClock(), log: new LogCapture().logger, concurrencyMax: 4, feeInclusionMaxStroops: 10_000, pollMs: LEDGER_MS })
  })
  afterAll(async () => {
    await dev?.close()
  })

  it('is built after the transaction queued before it on the lane ended, and counts in ended()', async () => {
    const [a, dest] = await Promise.all([funded(), funded()])
    const source = signerFromSeed(Buffer.from(a.rawSecretKey()))
    const pk = a.publicKey()
    expect(submitter.ended(pk)).toBe(0)
    const payment = submitter.submit({
      source, op: 'payout',
      classic: [Operation.payment({ destination: dest.publicKey(), asset: Asset.native(), amount: '1' }) as unknown as xdr.Operation],
    })
    let endedAtBuild = -1
    let paymentDone = false
    let paymentDoneAtBuild = false
    void payment.then(() => (paymentDone = true))
    const plant = submitter.submit({
      source, op: 'plant',
      invokeLate: async () => {
        endedAtBuild = submitter.ended(pk)
        // The payment's promise settles in a later microtask than the lane's count.
        await Promise.resolve()
        paymentDoneAtBuild = paymentDone
        return plantOp(net.contractId, pk, 0n)
      },
    })
    const [p, q] = await Promise.all([payment, plant])
    expect(p.status).toBe('success')
    expect(endedAtBuild).toBe(1)
    expect(paymentDoneAtBuild).toBe(true)
    // Reached the contract: simulated, signed and sent (success, or a KALE error such as no open block).
    expect(['success', 'contract-error'], JSON.stringify(q, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).toContain(q.status)
    expect(submitter.ended(pk)).toBe(2)
  }, 30_000)

  it('a throw ends the request failed with its reason and nothing sent; the lane goes on', async () => {
    const a = await funded()
    const source = signerFromSeed(Buffer.from(a.rawSecretKey()))
    const sent: string[] = []
    const res = await submitter.submit({
      source, op: 'plant',
      invokeLate: () => Promise.reject(new PoolError(ErrorCode.RPC_HTTP, 'balance read failed')),
      onSend: async (hash) => void sent.push(hash),
    })
    expect(res).toMatchObject({ status: 'failed', reason: 'balance read failed', hash: null })
    expect(sent).toEqual([])
    expect(submitter.ended(a.publicKey())).toBe(1)
    const next = await submitter.submit({ source, op: 'plant', invokeLate: async () => plantOp(net.contractId, a.publicKey(), 0n) })
    expect(['success', 'contract-error']).toContain(next.status)
    // Halted (as a killed process): ended 'failed' without building (invokeLate may read the chain).
    submitter.halt()
    let built = false
    try {
      const halted = await submitter.submit({ source, op: 'plant', invokeLate: async () => ((built = true), plantOp(net.contractId, a.publicKey(), 0n)) })
      expect(halted).toMatchObject({ status: 'failed', reason: 'submitter halted' })
      expect(built).toBe(false)
    } finally {
      submitter.resume()
    }
  }, 30_000)
})
