// The KALE contract over real RPC: a full plant → work → rollover → harvest
// cycle checked against the contract math, and every contract error by number.
import { describe, it, expect, afterAll } from 'vitest'
import { Keypair, TransactionBuilder, Operation, SorobanDataBuilder, xdr, scValToNative } from '@stellar/stellar-sdk'
import { keccak256 } from '../../src/kale/keccak.js'
import { preimage } from '../../src/kale/preimage.js'
import { zeros } from '../../src/kale/difficulty.js'
import { normalizedSum, harvestReward } from '../../src/kale/reward.js'
import { makeIds } from '../../src/devnet/xdr.js'
import { DEVNET_PASSPHRASE } from '../../src/devnet/index.js'
import * as h from './helpers.js'

const issuer = makeIds(DEVNET_PASSPHRASE, 'kale-pool devnet farm', 'kale-pool devnet issuer').issuerKeypair
const KALE = 10_000_000n

function findNonce(index: number, entropy: Uint8Array, farmer: string, minZeros = 1): { nonce: bigint; hash: Uint8Array } {
  for (let n = 0n; n < 100_000n; n++) {
    const hash = keccak256(preimage(index, n, entropy, farmer))
    if (zeros(hash) >= minZeros) return { nonce: n, hash }
  }
  throw new Error('no nonce found')
}

const workOp = (net: h.Net, farmer: string, hash: Uint8Array, nonce: bigint) => h.call(net, 'work', h.addr(farmer), xdr.ScVal.scvBytes(Buffer.from(hash)), h.u64(nonce))

describe('devnet farm contract', async () => {
  const { net, server } = await h.manualDevnet()
  afterAll(() => net.close())

  async function payKale(to: string, amount: bigint) {
    const acc = await server.getAccount(issuer.publicKey())
    const tx = new TransactionBuilder(acc, { fee: '100', networkPassphrase: net.info.networkPassphrase })
      .addOperation(Operation.payment({ destination: to, asset: h.kaleAsset(net), amount: (Number(amount) / 1e7).toFixed(7) }))
      .setTimeout(30)
      .build()
    tx.sign(issuer)
    const { res } = await h.sendClose(server, net, tx)
    expect(res?.status).toBe('SUCCESS')
  }

  async function rollover() {
    const inst = await h.readInstance(server, net)
    const ts = BigInt(inst.farmBlock.timestamp as bigint)
    while (BigInt(net.chain.state.closeTime + 5) < ts + 300n) net.closeLedger()
    const opener = await h.farmerManual(server, net)
    const r = await h.invokeClose(server, net, opener, h.call(net, 'plant', h.addr(opener.publicKey()), h.i128(0n)))
    expect(r.res?.status).toBe('SUCCESS')
    return opener
  }

  it('plant → work → rollover → harvest pays exactly the contract math', async () => {
    const a = await h.farmerManual(server, net)
    await payKale(a.publicKey(), 100n * KALE)
    const stake = 10n * KALE
    const planted = await h.invokeClose(server, net, a, h.call(net, 'plant', h.addr(a.publicKey()), h.i128(stake)))
    expect(planted.res?.status).toBe('SUCCESS')
    expect(await h.kaleBalance(server, net, a.publicKey())).toBe(90n * KALE)
    const { farmIndex: n } = await h.readInstance(server, net)
    expect(n).toBeGreaterThanOrEqual(1)

    // double plant: #8
    const again = await h.prepare(server, net, a, h.call(net, 'plant', h.addr(a.publicKey()), h.i128(0n)))
    expect(again.error).toContain('Error(Contract, #8)')

    h.closeLedgers(net, 2)
    const block = await h.readTemp(server, h.blockKey(net, n))
    const entropy = block!.value.entropy as Uint8Array
    const { nonce, hash } = findNonce(n, entropy, a.publicKey())

    // hash mismatch: #13
    const bad = Uint8Array.from(hash)
    bad[31] = bad[31]! ^ 1
    expect((await h.prepare(server, net, a, workOp(net, a.publicKey(), bad, nonce))).error).toContain('Error(Contract, #13)')

    const worked = await h.invokeClose(server, net, a, workOp(net, a.publicKey(), hash, nonce))
    expect(worked.res?.status).toBe('SUCCESS')
    const gap = worked.res?.status === 'SUCCESS' ? scValToNative(worked.res.returnValue!) : -1
    expect(gap).toBe(3)

    // the same zeros again: #7; harvest before the block is over: #14
    expect((await h.prepare(server, net, a, workOp(net, a.publicKey(), hash, nonce))).error).toContain('Error(Contract, #7)')
    expect((await h.prepare(server, net, a, h.call(net, 'harvest', h.addr(a.publicKey()), h.u32(n)))).error).toContain('Error(Contract, #14)')

    await rollover()
    const inst = await h.readInstance(server, net)
    expect(inst.farmIndex).toBe(n + 1)
    const next = await h.readTemp(server, h.blockKey(net, n + 1))
    expect(Buffer.from(next!.value.entropy as Uint8Array).equals(Buffer.from(hash))).toBe(true)

    // work after the rollover: the pail of the new block is missing (#9)
    expect((await h.prepare(server, net, a, workOp(net, a.publicKey(), hash, nonce))).error).toContain('Error(Contract, #9)')

    const b = (await h.readTemp(server, h.blockKey(net, n)))!.value
    const p = (await h.readTemp(server, h.pailKey(net, a.publicKey(), n)))!.value
    const stats = { minGap: BigInt(b.min_gap as number), maxGap: BigInt(b.max_gap as number), minStake: b.min_stake as bigint, maxStake: b.max_stake as bigint, minZeros: BigInt(b.min_zeros as number), maxZeros: BigInt(b.max_zeros as number) }
    const mine = normalizedSum(stats, { gap: BigInt(p.gap as number), stake: p.stake as bigint, zeros: BigInt(p.zeros as number) })
    const expected = harvestReward(n, mine, b.staked_total as bigint, b.normalized_total as bigint)
    expect(expected).toBeGreaterThan(0n)

    const harvested = await h.invokeClose(server, net, a, h.call(net, 'harvest', h.addr(a.publicKey()), h.u32(n)))
    expect(harvested.res?.status).toBe('SUCCESS')
    const reward = harvested.res?.status === 'SUCCESS' ? (scValToNative(harvested.res.returnValue!) as bigint) : -1n
    expect(reward).toBe(expected)
    expect(await h.kaleBalance(server, net, a.publicKey())).toBe(90n * KALE + stake + expected)
    // the pail is gone: harvesting twice is #9
    expect((await h.prepare(server, net, a, h.call(net, 'harvest', h.addr(a.publicKey()), h.u32(n)))).error).toContain('Error(Contract, #9)')
  })

  it('rejects a negative stake (#6), work without a plant (#9), a stake without KALE (SAC #10)', async () => {
    const c = await h.farmerManual(server, net)
    expect((await h.prepare(server, net, c, h.call(net, 'plant', h.addr(c.publicKey()), h.i128(-1n)))).error).toContain('Error(Contract, #6)')
    expect((await h.prepare(server, net, c, workOp(net, c.publicKey(), new Uint8Array(32), 0n))).error).toContain('Error(Contract, #9)')
    expect((await h.prepare(server, net, c, h.call(net, 'plant', h.addr(c.publicKey()), h.i128(5n)))).error).toContain('Error(Contract, #10)')
    expect((await h.prepare(server, net, c, h.call(net, 'harvest', h.addr(c.publicKey()), h.u32(9999)))).error).toContain('Error(Contract, #11)')
  })

  it('fails a work applied in the plant ledger with #15 (gap 0), reported in the failed transaction', async () => {
    const d = await h.farmerManual(server, net)
    const e = await h.farmerManual(server, net)
    const { farmIndex } = await h.readInstance(server, net)
    const entropy = (await h.readTemp(server, h.blockKey(net, farmIndex)))!.value.entropy as Uint8Array
    const plantTx = await h.prepare(server, net, d, h.call(net, 'plant', h.addr(d.publicKey()), h.i128(0n)))
    const { nonce, hash } = findNonce(farmIndex, entropy, d.publicKey())
    const data = new SorobanDataBuilder()
      .setReadWrite([new h.Contract(net.info.contractId).getFootprint(), h.blockKey(net, farmIndex), h.pailKey(net, d.publicKey(), farmIndex)])
      .setResourceFee(200_000n)
      .build()
    const workTx = new TransactionBuilder(await server.getAccount(e.publicKey()), { fee: '100', networkPassphrase: net.info.networkPassphrase })
      .setSorobanData(data)
      .addOperation(workOp(net, d.publicKey(), hash, nonce))
      .setTimeout(30)
      .build()
    workTx.sign(e)
    expect((await server.sendTransaction(plantTx.tx!)).status).toBe('PENDING')
    const sent = await server.sendTransaction(workTx)
    expect(sent.status).toBe('PENDING')
    net.closeLedger()
    const res = await server.getTransaction(sent.hash)
    expect(res.status).toBe('FAILED')
    expect(h.contractErrorOf(res)).toBe(15)
  })
})

describe('devnet temporary entries expire', async () => {
  const { net, server } = await h.manualDevnet({ tempTtlLedgers: 70 })
  afterAll(() => net.close())

  it('a block not harvested within its TTL is lost (#11)', async () => {
    const f = await h.farmerManual(server, net)
    const planted = await h.invokeClose(server, net, f, h.call(net, 'plant', h.addr(f.publicKey()), h.i128(0n)))
    expect(planted.res?.status).toBe('SUCCESS')
    const plantLedger = planted.res!.status === 'SUCCESS' ? planted.res!.ledger : 0
    const { farmIndex: n } = await h.readInstance(server, net)
    const blk = await h.readTemp(server, h.blockKey(net, n))
    expect(blk?.liveUntil).toBe(plantLedger + 70 - 1)
    h.closeLedgers(net, 62)
    const g = await h.farmerManual(server, net)
    expect((await h.invokeClose(server, net, g, h.call(net, 'plant', h.addr(g.publicKey()), h.i128(0n)))).res?.status).toBe('SUCCESS')
    expect((await h.readInstance(server, net)).farmIndex).toBe(n + 1)
    h.closeLedgers(net, 10)
    expect(await h.readTemp(server, h.blockKey(net, n))).toBeNull()
    expect(await h.readTemp(server, h.pailKey(net, f.publicKey(), n))).toBeNull()
    expect((await h.prepare(server, net, f, h.call(net, 'harvest', h.addr(f.publicKey()), h.u32(n)))).error).toContain('Error(Contract, #11)')
  })
})

void Keypair
