// Transaction admission and application like the network: sequence numbers,
// signatures, Soroban auth entries, fees, one pending transaction per source,
// balances and reserves, classic payments of up to 100 operations.
import { describe, it, expect, afterAll } from 'vitest'
import { Keypair, TransactionBuilder, Operation, Asset, Account, authorizeEntry, rpc, SorobanDataBuilder } from '@stellar/stellar-sdk'
import { makeIds } from '../../src/devnet/xdr.js'
import { stroopsToKale } from '../../src/kale/reward.js'
import { DEVNET_PASSPHRASE } from '../../src/devnet/index.js'
import * as h from './helpers.js'

const issuer = makeIds(DEVNET_PASSPHRASE, 'kale-pool devnet farm', 'kale-pool devnet issuer').issuerKeypair

describe('devnet transactions', async () => {
  const { net, server } = await h.manualDevnet()
  afterAll(() => net.close())
  const pass = net.info.networkPassphrase
  const build = (acc: Account, ...ops: ReturnType<typeof Operation.payment>[]) => {
    const b = new TransactionBuilder(acc, { fee: '100', networkPassphrase: pass }).setTimeout(30)
    for (const op of ops) b.addOperation(op)
    return b.build()
  }

  it('rejects a bad sequence number (txBadSeq) and a bad signature (txBadAuth) without consuming the sequence', async () => {
    const a = await h.fundManual(server, net)
    const acc = await server.getAccount(a.publicKey())
    const ahead = new Account(a.publicKey(), (BigInt(acc.sequenceNumber()) + 5n).toString())
    const tx1 = build(ahead, Operation.payment({ destination: issuer.publicKey(), asset: Asset.native(), amount: '1' }))
    tx1.sign(a)
    const r1 = await server.sendTransaction(tx1)
    expect(r1.status).toBe('ERROR')
    expect(r1.errorResult?.result.type).toBe('txBadSeq')
    const tx2 = build(new Account(a.publicKey(), acc.sequenceNumber()), Operation.payment({ destination: issuer.publicKey(), asset: Asset.native(), amount: '1' }))
    tx2.sign(Keypair.random())
    const r2 = await server.sendTransaction(tx2)
    expect(r2.status).toBe('ERROR')
    expect(r2.errorResult?.result.type).toBe('txBadAuth')
    const unsigned = build(new Account(a.publicKey(), acc.sequenceNumber()), Operation.payment({ destination: issuer.publicKey(), asset: Asset.native(), amount: '1' }))
    expect((await server.sendTransaction(unsigned)).errorResult?.result.type).toBe('txBadAuth')
    // the sequence number was not consumed: the right transaction still goes through
    const ok = build(new Account(a.publicKey(), acc.sequenceNumber()), Operation.payment({ destination: issuer.publicKey(), asset: Asset.native(), amount: '1' }))
    ok.sign(a)
    expect((await h.sendClose(server, net, ok)).res?.status).toBe('SUCCESS')
  })

  it('allows one pending transaction per source (TRY_AGAIN_LATER), answers DUPLICATE, NOT_FOUND until the close', async () => {
    const a = await h.fundManual(server, net)
    const acc = await server.getAccount(a.publicKey())
    const t1 = build(acc, Operation.payment({ destination: issuer.publicKey(), asset: Asset.native(), amount: '1' }))
    const t2 = build(acc, Operation.payment({ destination: issuer.publicKey(), asset: Asset.native(), amount: '2' }))
    t1.sign(a)
    t2.sign(a)
    const s1 = await server.sendTransaction(t1)
    expect(s1.status).toBe('PENDING')
    expect((await server.getTransaction(s1.hash)).status).toBe('NOT_FOUND')
    expect((await server.sendTransaction(t1)).status).toBe('DUPLICATE')
    expect((await server.sendTransaction(t2)).status).toBe('TRY_AGAIN_LATER')
    net.closeLedger()
    expect((await server.getTransaction(s1.hash)).status).toBe('SUCCESS')
    expect((await server.sendTransaction(t1)).status).toBe('DUPLICATE')
  })

  it('rejects an inclusion fee below 100 stroops and a resource fee below the simulated one (txInsufficientFee)', async () => {
    const f = await h.farmerManual(server, net)
    const op = h.call(net, 'plant', h.addr(f.publicKey()), h.i128(0n))
    const seq = (await server.getAccount(f.publicKey())).sequenceNumber()
    const fresh = () => new TransactionBuilder(new Account(f.publicKey(), seq), { fee: '100', networkPassphrase: pass }).addOperation(op).setTimeout(30).build()
    const sim = await server.simulateTransaction(fresh())
    if (!rpc.Api.isSimulationSuccess(sim)) throw new Error('simulation failed')
    const cheap = rpc.assembleTransaction(new TransactionBuilder(new Account(f.publicKey(), seq), { fee: '10', networkPassphrase: pass }).addOperation(op).setTimeout(30).build(), sim).build()
    cheap.sign(f)
    expect((await server.sendTransaction(cheap)).errorResult?.result.type).toBe('txInsufficientFee')
    const low = new SorobanDataBuilder(sim.transactionData.build()).setResourceFee(1n).build()
    const assembled = rpc.assembleTransaction(fresh(), sim).build()
    const reLow = TransactionBuilder.cloneFrom(assembled, { fee: '100', sorobanData: low }).build()
    reLow.sign(f)
    expect((await server.sendTransaction(reLow)).errorResult?.result.type).toBe('txInsufficientFee')
    // the properly assembled one is accepted
    const good = rpc.assembleTransaction(fresh(), sim).build()
    good.sign(f)
    expect((await h.sendClose(server, net, good)).res?.status).toBe('SUCCESS')
  })

  it('checks Soroban auth entries when the farmer is not the source: missing auth fails, a signed entry succeeds', async () => {
    const farmer = await h.farmerManual(server, net)
    const payer = await h.fundManual(server, net)
    const op = h.call(net, 'plant', h.addr(farmer.publicKey()), h.i128(0n))
    const acc = await server.getAccount(payer.publicKey())
    const tx = new TransactionBuilder(acc, { fee: '100', networkPassphrase: pass }).addOperation(op).setTimeout(30).build()
    const sim = await server.simulateTransaction(tx)
    if (!rpc.Api.isSimulationSuccess(sim)) throw new Error('simulation failed')
    expect(sim.result?.auth[0]?.credentials.type).toBe('sorobanCredentialsAddressV2')
    // unsigned entry: the transaction fails when applied
    const unsigned = rpc.assembleTransaction(tx, sim).build()
    unsigned.sign(payer)
    const r1 = await h.sendClose(server, net, unsigned)
    expect(r1.res?.status).toBe('FAILED')
    // signed by a stranger: fails too
    const latest = (await server.getLatestLedger()).sequence
    const acc2 = await server.getAccount(payer.publicKey())
    const tx2 = new TransactionBuilder(acc2, { fee: '100', networkPassphrase: pass }).addOperation(op).setTimeout(30).build()
    const sim2 = await server.simulateTransaction(tx2)
    if (!rpc.Api.isSimulationSuccess(sim2)) throw new Error('simulation failed')
    const withAuth = (entry: Awaited<ReturnType<typeof authorizeEntry>>) => {
      const ready = rpc.assembleTransaction(tx2, sim2).build()
      const t = TransactionBuilder.cloneFrom(ready, { fee: String(Number(ready.fee) - Number(sim2.minResourceFee)), sorobanData: sim2.transactionData.build() })
        .clearOperations()
        .addOperation(Operation.invokeHostFunction({ func: (ready.operations[0] as { func: never }).func, auth: [entry] }))
        .build()
      t.sign(payer)
      return t
    }
    // a stranger's signature over the farmer's credentials
    const forged = await authorizeEntry(sim2.result!.auth[0]!, Keypair.random(), latest + 10, pass, farmer.publicKey())
    expect((await h.sendClose(server, net, withAuth(forged))).res?.status).toBe('FAILED')
    const acc3 = await server.getAccount(payer.publicKey())
    const tx3 = new TransactionBuilder(acc3, { fee: '100', networkPassphrase: pass }).addOperation(op).setTimeout(30).build()
    const sim3 = await server.simulateTransaction(tx3)
    if (!rpc.Api.isSimulationSuccess(sim3)) throw new Error('simulation failed')
    const signed = await authorizeEntry(sim3.result!.auth[0]!, farmer, latest + 10, pass)
    const ready3 = rpc.assembleTransaction(tx3, sim3).build()
    const t3 = TransactionBuilder.cloneFrom(ready3, { fee: String(Number(ready3.fee) - Number(sim3.minResourceFee)), sorobanData: sim3.transactionData.build() })
      .clearOperations()
      .addOperation(Operation.invokeHostFunction({ func: (ready3.operations[0] as { func: never }).func, auth: [signed] }))
      .build()
    t3.sign(payer)
    const r3 = await h.sendClose(server, net, t3)
    expect(r3.res?.status).toBe('SUCCESS')
  })

  it('pays XLM and KALE with up to 100 operations; fails underfunded payments and charges the fee anyway', async () => {
    const a = await h.farmerManual(server, net)
    const dests = await Promise.all([0, 1].map(() => h.farmerManual(server, net)))
    const iacc = await server.getAccount(issuer.publicKey())
    const ops = Array.from({ length: 100 }, (_, i) => Operation.payment({ destination: i % 2 ? dests[1]!.publicKey() : a.publicKey(), asset: h.kaleAsset(net), amount: '1' }))
    const t = build(iacc, ...ops)
    t.sign(issuer)
    expect((await h.sendClose(server, net, t)).res?.status).toBe('SUCCESS')
    expect(await h.kaleBalance(server, net, a.publicKey())).toBe(50n * 10_000_000n)
    const before = (await server.getAccountEntry(a.publicKey())).balance
    const under = build(await server.getAccount(a.publicKey()), Operation.payment({ destination: dests[0]!.publicKey(), asset: Asset.native(), amount: '9999.5' }))
    under.sign(a)
    const r = await h.sendClose(server, net, under)
    expect(r.res?.status).toBe('FAILED')
    const after = (await server.getAccountEntry(a.publicKey())).balance
    expect(BigInt(before.toString()) - BigInt(after.toString())).toBe(100n)
    // reserves: 1 XLM base + 0.5 per subentry (the trustline) stays locked
    const all = build(await server.getAccount(a.publicKey()), Operation.payment({ destination: dests[0]!.publicKey(), asset: Asset.native(), amount: stroopsToKale(BigInt(after.toString()) - 15_000_100n) }))
    all.sign(a)
    expect((await h.sendClose(server, net, all)).res?.status).toBe('SUCCESS')
    expect(BigInt((await server.getAccountEntry(a.publicKey())).balance.toString())).toBe(15_000_000n)
  })
})
