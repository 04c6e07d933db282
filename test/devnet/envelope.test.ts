// The devnet's raw envelope decoder against the SDK's Transaction objects: the
// same hash, sources, fee, sequence, time bounds and operations for every
// envelope kind, and the same refusals of malformed input. Then fee bumps and
// operation sources through the devnet over HTTP.
import crypto from 'node:crypto'
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { Account, Asset, FeeBumpTransaction, Keypair, MuxedAccount, Networks, Operation, TransactionBuilder, hash, xdr, type Transaction } from '@stellar/stellar-sdk'
import { base64Bytes, decodeEnvelope } from '../../src/devnet/envelope.js'
import { manualDevnet, fundManual, sendClose, call, addr, i128, type Net } from './helpers.js'
import type { rpc } from '@stellar/stellar-sdk'

const PASS = Networks.TESTNET
const NETWORK_ID = hash(Buffer.from(PASS))

function sdkView(b64: string) {
  const outer = TransactionBuilder.fromXDR(b64, PASS)
  const tx = outer instanceof FeeBumpTransaction ? outer.innerTransaction : outer
  return {
    hash: Buffer.from(outer.hash()).toString('hex'),
    source: tx.source,
    feeSource: outer instanceof FeeBumpTransaction ? outer.feeSource : tx.source,
    fee: BigInt(outer.fee),
    seq: BigInt(tx.sequence),
    maxTime: tx.timeBounds ? BigInt(tx.timeBounds.maxTime) : null,
    ops: tx.operations.length,
    opSources: tx.operations.map((o) => o.source ?? null),
    innerHash: Buffer.from(tx.hash()).toString('hex'),
  }
}

function ourView(b64: string) {
  const e = decodeEnvelope(b64, NETWORK_ID)
  return {
    hash: e.hash,
    source: e.source,
    feeSource: e.feeSource,
    fee: e.fee,
    seq: e.seq,
    maxTime: e.maxTime,
    ops: e.operations.length,
    opSources: e.opSources,
    innerHash: Buffer.from(e.innerHash).toString('hex'),
  }
}

const kp = Keypair.random()
const other = Keypair.random()
const build = (source: Account | MuxedAccount, f: (b: TransactionBuilder) => TransactionBuilder, timeout = 30): Transaction => {
  const tx = f(new TransactionBuilder(source, { fee: '100', networkPassphrase: PASS })).setTimeout(timeout).build()
  tx.sign(kp)
  return tx
}
const pay = (opts: Partial<Parameters<typeof Operation.payment>[0]> = {}) => Operation.payment({ destination: other.publicKey(), asset: Asset.native(), amount: '1', ...opts })

describe('decodeEnvelope', () => {
  const cases: Array<[string, () => string]> = [
    ['one payment', () => build(new Account(kp.publicKey(), '41'), (b) => b.addOperation(pay())).toXDR()],
    ['many operations, one with its own source, no time bounds', () => build(new Account(kp.publicKey(), '9'), (b) => b.addOperation(pay()).addOperation(pay({ source: other.publicKey() })).addOperation(pay({ amount: '2.5' })), 0).toXDR()],
    ['a contract call', () => build(new Account(kp.publicKey(), '7'), (b) => b.addOperation(Operation.invokeContractFunction({ contract: 'CDL74RF5BLYR2YBLCCI7F5FB6TPSCLKEJUBSD2RSVWZ4YHF3VMFAIGWA', function: 'plant', args: [addr(kp.publicKey()), i128(5n)] }))).toXDR()],
    ['a muxed source', () => build(new MuxedAccount(new Account(kp.publicKey(), '3'), '77'), (b) => b.addOperation(pay())).toXDR()],
    ['several signatures', () => {
      const tx = build(new Account(kp.publicKey(), '5'), (b) => b.addOperation(pay({ source: other.publicKey() })))
      tx.sign(other)
      return tx.toXDR()
    }],
    ['ledger bounds (precondV2) with time bounds', () => {
      const tx = new TransactionBuilder(new Account(kp.publicKey(), '11'), { fee: '100', networkPassphrase: PASS, ledgerbounds: { minLedger: 1, maxLedger: 900 }, timebounds: { minTime: 5, maxTime: 1_900_000_000 } })
        .addOperation(pay())
        .build()
      tx.sign(kp)
      return tx.toXDR()
    }],
    ['a fee bump by another account', () => {
      const inner = build(new Account(kp.publicKey(), '21'), (b) => b.addOperation(pay()))
      const fb = TransactionBuilder.buildFeeBumpTransaction(other, '1000', inner, PASS)
      fb.sign(other)
      return fb.toXDR()
    }],
    ['a legacy v0 envelope', () => {
      const tx = build(new Account(kp.publicKey(), '13'), (b) => b.addOperation(pay()))
      const v1 = tx.toEnvelope().v1
      const t = v1.tx
      if (t.sourceAccount.type !== 'keyTypeEd25519' || t.cond.type !== 'precondTime') throw new Error('unexpected shape')
      const v0 = new xdr.TransactionV0({ sourceAccountEd25519: t.sourceAccount.ed25519, fee: t.fee, seqNum: t.seqNum, timeBounds: t.cond.timeBounds, memo: t.memo, operations: t.operations, ext: xdr.TransactionV0Ext.v0() } as never)
      return xdr.TransactionEnvelope.envelopeTypeTxV0(new xdr.TransactionV0Envelope({ tx: v0, signatures: v1.signatures } as never)).toXdr('base64')
    }],
  ]
  for (const [name, make] of cases) {
    it(`reads ${name} as the SDK does, hash included`, () => {
      const b64 = make()
      expect(ourView(b64)).toEqual(sdkView(b64))
    })
  }

  it('takes url-safe and unpadded base64 like the SDK (atob), and the canonical form fast', () => {
    const b64 = cases[0]![1]()
    const bytes = Buffer.from(b64, 'base64')
    expect(base64Bytes(b64).equals(bytes)).toBe(true)
    const urlSafe = b64.replace(/\+/g, '-').replace(/\//g, '_')
    expect(base64Bytes(urlSafe).equals(bytes)).toBe(true)
    expect(ourView(urlSafe)).toEqual(sdkView(urlSafe))
  })

  it('refuses what the SDK refuses: bad characters, trailing bytes, truncation, an unknown envelope type, garbage', () => {
    const b64 = cases[0]![1]()
    const bytes = Buffer.from(b64, 'base64')
    const hostile = [
      `${b64.slice(0, 8)}*${b64.slice(9)}`,
      Buffer.concat([bytes, Buffer.alloc(4)]).toString('base64'),
      bytes.subarray(0, bytes.length - 4).toString('base64'),
      Buffer.concat([Buffer.from([0, 0, 0, 9]), bytes.subarray(4)]).toString('base64'),
      crypto.randomBytes(300).toString('base64'),
      '',
      'A',
    ]
    for (const h of hostile) {
      expect(() => TransactionBuilder.fromXDR(h, PASS), h.slice(0, 20)).toThrow()
      expect(() => decodeEnvelope(h, NETWORK_ID), h.slice(0, 20)).toThrow()
    }
  })
})

describe('fee bumps and operation sources on the devnet', () => {
  let net: Net
  let server: rpc.Server
  let a: Keypair
  let b: Keypair
  beforeAll(async () => {
    ;({ net, server } = await manualDevnet())
    a = await fundManual(server, net)
    b = await fundManual(server, net)
  }, 30_000)
  afterAll(() => net.close())

  const seqOf = (g: string) => net.chain.state.accounts.get(g)!.seq.toString()
  const payB = () => Operation.payment({ destination: b.publicKey(), asset: Asset.native(), amount: '1' })

  it('applies a fee bump signed by its fee source, charging the fee source; refuses one the fee source did not sign (txBadAuth)', async () => {
    const inner = new TransactionBuilder(new Account(a.publicKey(), seqOf(a.publicKey())), { fee: '100', networkPassphrase: net.info.networkPassphrase }).addOperation(payB()).setTimeout(30).build()
    inner.sign(a)
    const unsigned = TransactionBuilder.buildFeeBumpTransaction(b, '1000', inner, net.info.networkPassphrase)
    const refused = await server.sendTransaction(unsigned)
    expect(refused.status).toBe('ERROR')
    expect(refused.errorResult?.result.type).toBe('txBadAuth')
    const fb = TransactionBuilder.buildFeeBumpTransaction(b, '1000', inner, net.info.networkPassphrase)
    fb.sign(b)
    const bBefore = net.chain.state.accounts.get(b.publicKey())!.balance
    const { sent, res } = await sendClose(server, net, fb as unknown as Transaction)
    expect(sent.status).toBe('PENDING')
    expect(sent.hash).toBe(Buffer.from(fb.hash()).toString('hex'))
    expect(res?.status).toBe('SUCCESS')
    // b received 1 XLM and paid the fee: 2 operations' worth of inclusion (inner op + the bump)
    expect(net.chain.state.accounts.get(b.publicKey())!.balance - bBefore).toBe(10_000_000n - 200n)
  })

  it('requires the signature of an operation with its own source, and refuses an M… operation source no one can sign for', async () => {
    const build = (opSource: string) =>
      new TransactionBuilder(new Account(a.publicKey(), seqOf(a.publicKey())), { fee: '100', networkPassphrase: net.info.networkPassphrase })
        .addOperation(Operation.payment({ destination: a.publicKey(), asset: Asset.native(), amount: '1', source: opSource }))
        .setTimeout(30)
        .build()
    const missing = build(b.publicKey())
    missing.sign(a)
    const r1 = await server.sendTransaction(missing)
    expect(r1.errorResult?.result.type).toBe('txBadAuth')
    const muxed = build(new MuxedAccount(new Account(b.publicKey(), '0'), '5').accountId())
    muxed.sign(a, b)
    const r2 = await server.sendTransaction(muxed)
    expect(r2.errorResult?.result.type).toBe('txBadAuth')
    const signed = build(b.publicKey())
    signed.sign(a, b)
    const { res } = await sendClose(server, net, signed)
    expect(res?.status).toBe('SUCCESS')
  })

  it('applies a plant whose envelope the SDK built, with the hash the SDK computes', async () => {
    const { prepare } = await import('./helpers.js')
    const p = await prepare(server, net, a, call(net, 'plant', addr(a.publicKey()), i128(0n)))
    expect(p.tx).toBeDefined()
    const sent = await server.sendTransaction(p.tx!)
    expect(sent.hash).toBe(Buffer.from(p.tx!.hash()).toString('hex'))
  })
})
