import { describe, it, expect } from 'vitest'
import { createHash } from 'node:crypto'
import { Account, Keypair, Networks, Operation, TransactionBuilder, rpc, xdr } from '@stellar/stellar-sdk'
import { assembleTx, encodeTx, feeChargedOf, resourceFeeOf, signRawTx, txHash, unsignedEnvelope } from '../../src/chain/envelope.js'
import { signerFromSeed, signTx } from '../../src/chain/signer.js'
import { plantOp, workOp } from '../../src/chain/contract.js'
import { sendErrorCode } from '../../src/chain/submitter.js'

const CONTRACT = 'CDL74RF5BLYR2YBLCCI7F5FB6TPSCLKEJUBSD2RSVWZ4YHF3VMFAIGWA'
const passphrase = Networks.TESTNET
const networkId = createHash('sha256').update(passphrase).digest()
const kp = Keypair.random()
const kp2 = Keypair.random()
const signer = signerFromSeed(Uint8Array.from(kp.rawSecretKey()))
const signer2 = signerFromSeed(Uint8Array.from(kp2.rawSecretKey()))

function sdkTx(seq: bigint, fee: number, maxTime: number, ops: xdr.Operation[]) {
  const b = new TransactionBuilder(new Account(kp.publicKey(), (seq - 1n).toString()), { fee: String(fee), networkPassphrase: passphrase })
  for (const op of ops) b.addOperation(op)
  return b.setTimebounds(0, maxTime).build()
}

function invokeArgs(op: xdr.Operation): xdr.InvokeContractArgs {
  if (op.body.type !== 'invokeHostFunction') throw new Error('not an invocation')
  const f = op.body.invokeHostFunctionOp.hostFunction
  if (f.type !== 'hostFunctionTypeInvokeContract') throw new Error('not a contract call')
  return f.invokeContract
}

/** A simulation answer as the RPC sends it, with a footprint and one auth entry. */
function simulation(resourceFee: bigint, withAuth: boolean) {
  const sd = new xdr.SorobanTransactionData({
    ext: xdr.SorobanTransactionDataExt.v0(),
    resources: new xdr.SorobanResources({
      footprint: new xdr.LedgerFootprint({ readOnly: [], readWrite: [xdr.LedgerKey.account(new xdr.LedgerKeyAccount({ accountId: xdr.PublicKey.publicKeyTypeEd25519(kp.rawPublicKey()) }))] }),
      instructions: 1234, diskReadBytes: 56, writeBytes: 78,
    }),
    resourceFee,
  })
  const auth = new xdr.SorobanAuthorizationEntry({
    credentials: xdr.SorobanCredentials.sorobanCredentialsSourceAccount(),
    rootInvocation: new xdr.SorobanAuthorizedInvocation({
      function: xdr.SorobanAuthorizedFunction.sorobanAuthorizedFunctionTypeContractFn(invokeArgs(plantOp(CONTRACT, kp.publicKey(), 5n))),
      subInvocations: [],
    }),
  })
  return {
    latestLedger: 10,
    transactionData: Buffer.from(sd.toXDR()).toString('base64'),
    minResourceFee: resourceFee.toString(),
    results: [{ auth: withAuth ? [Buffer.from(auth.toXDR()).toString('base64')] : [], xdr: Buffer.from(xdr.ScVal.scvVoid().toXDR()).toString('base64') }],
  }
}

describe('raw transaction bytes match the SDK', () => {
  it('encodes, hashes and signs classic transactions like TransactionBuilder + signTx', () => {
    const classic = [Operation.bumpSequence({ bumpTo: '99' }), Operation.bumpSequence({ bumpTo: '100', source: kp2.publicKey() })]
    const sdk = sdkTx(42n, 200, 1_700_000_060, classic)
    const raw = encodeTx(kp.publicKey(), 42n, 400, 1_700_000_060, classic)
    expect(raw.toString('base64')).toBe(Buffer.from(sdk.toEnvelope().value.tx.toXDR()).toString('base64'))
    expect(txHash(networkId, raw).toString('hex')).toBe(Buffer.from(sdk.hash()).toString('hex'))
    signTx(sdk, signer)
    signTx(sdk, signer2)
    const signed = signRawTx(networkId, raw, 42n, [signer, signer2])
    expect(signed.hash).toBe(Buffer.from(sdk.hash()).toString('hex'))
    expect(signed.envelope).toBe(sdk.toXDR())
    expect(signed.seq).toBe(42n)
    expect(sdk.fee).toBe('400')
    expect(unsignedEnvelope(raw)).toBe(sdkTx(42n, 200, 1_700_000_060, classic).toXDR())
  })

  for (const withAuth of [true, false]) {
    it(`assembles an invocation like rpc.assembleTransaction (auth ${withAuth ? 'from the simulation' : 'none'})`, () => {
      for (const op of [plantOp(CONTRACT, kp.publicKey(), 123_456n), workOp(CONTRACT, kp.publicKey(), new Uint8Array(32).fill(7), 99n)]) {
        const sim = simulation(98_765n, withAuth)
        const sdk = rpc.assembleTransaction(sdkTx(7n, 100, 5000, [op]), sim as unknown as rpc.Api.RawSimulateTransactionResponse).build()
        const raw = assembleTx(encodeTx(kp.publicKey(), 7n, 100, 5000, [op]), 100, Buffer.from(sim.transactionData, 'base64'), sim.results[0]!.auth.map((a) => Buffer.from(a, 'base64')))
        expect(raw.toString('base64')).toBe(Buffer.from(sdk.toEnvelope().value.tx.toXDR()).toString('base64'))
        expect(sdk.fee).toBe(String(100 + 98_765))
        signTx(sdk, signer)
        expect(signRawTx(networkId, raw, 7n, [signer]).envelope).toBe(sdk.toXDR())
      }
    })
  }

  it('refuses hostile or impossible inputs', () => {
    const op = plantOp(CONTRACT, kp.publicKey(), 1n)
    const tx = encodeTx(kp.publicKey(), 1n, 100, 10, [op])
    const sim = simulation(5n, true)
    const data = Buffer.from(sim.transactionData, 'base64')
    const assembled = assembleTx(tx, 100, data, null)
    expect(() => assembleTx(assembled, 100, data, null)).toThrow(/already has soroban data/)
    const huge = Buffer.from(data)
    huge.writeBigInt64BE(0xffffffffn, huge.length - 8)
    expect(() => assembleTx(tx, 100, huge, null)).toThrow(/exceeds a u32/)
    const negative = Buffer.from(data)
    negative.writeBigInt64BE(-500n, negative.length - 8)
    expect(() => assembleTx(tx, 100, negative, null)).toThrow(/exceeds a u32/)
    expect(() => resourceFeeOf(Buffer.alloc(3))).toThrow(/too short/)
    expect(() => encodeTx(kp.publicKey(), 1n, 2 ** 32, 10, [op])).toThrow(/not a u32/)
    expect(() => encodeTx(kp.publicKey(), 1n, -1, 10, [op])).toThrow(/not a u32/)
  })

  it('reads feeCharged and the send error code from raw results', () => {
    const result = (code: number): string => {
      const b = Buffer.alloc(16)
      b.writeBigInt64BE(4242n, 0)
      b.writeInt32BE(code, 8)
      return b.toString('base64')
    }
    expect(feeChargedOf(result(-5))).toBe(4242n)
    expect(() => feeChargedOf('AAAA')).toThrow(/too short/)
    expect(sendErrorCode(result(-5))).toBe('txBadSeq')
    expect(sendErrorCode(result(-9))).toBe('txInsufficientFee')
    expect(sendErrorCode(result(-3))).toBe('txTooLate')
    expect(sendErrorCode(result(-2))).toBe('txTooEarly')
    expect(sendErrorCode(result(-999))).toBe('unknown')
    expect(sendErrorCode('AAAA')).toBe('unknown')
    expect(sendErrorCode(undefined)).toBe('unknown')
  })
})
