// The devnet's shortcuts around the SDK's encoders give the SDK's bytes:
// cached StrKey spellings, transaction data concatenated from cached key
// encodings, invoke results hashed with node:crypto.
import { describe, it, expect } from 'vitest'
import { Address, Keypair, MuxedAccount, Account, StrKey, hash, xdr, nativeToScVal } from '@stellar/stellar-sdk'
import { accountStr, scAddressStr, isContract } from '../../src/devnet/strkeys.js'
import { sorobanData, sorobanDataXdr, resourceFeeFor } from '../../src/devnet/invoke.js'
import { makeIds, XdrBuilder, invokeResult } from '../../src/devnet/xdr.js'

const ids = makeIds('Test SDF Network ; September 2015', 'xdr-cache test farm', 'xdr-cache test issuer')
const b = new XdrBuilder(ids)

describe('cached StrKey spellings', () => {
  it('spell accounts and contracts as the SDK does, the same on a cache hit', () => {
    for (let i = 0; i < 20; i++) {
      const kp = Keypair.random()
      const raw = kp.rawPublicKey()
      expect(accountStr(raw)).toBe(kp.publicKey())
      expect(accountStr(Uint8Array.from(raw))).toBe(kp.publicKey())
      expect(scAddressStr(new Address(kp.publicKey()).toScAddress())).toBe(kp.publicKey())
    }
    expect(scAddressStr(new Address(ids.contractId).toScAddress())).toBe(ids.contractId)
    expect(scAddressStr(new Address(ids.sacId).toScAddress())).toBe(ids.sacId)
  })

  it('passes other address kinds to the SDK (a muxed account stays M…)', () => {
    const m = new MuxedAccount(new Account(Keypair.random().publicKey(), '0'), '9').accountId()
    expect(scAddressStr(new Address(m).toScAddress())).toBe(m)
  })

  it('recognises the contract by its raw id only', () => {
    expect(isContract(new Address(ids.contractId).toScAddress(), ids.contractRaw)).toBe(true)
    expect(isContract(new Address(ids.sacId).toScAddress(), ids.contractRaw)).toBe(false)
    // an account whose key has the same 32 bytes is not the contract
    expect(isContract(new Address(StrKey.encodeEd25519PublicKey(ids.contractRaw)).toScAddress(), ids.contractRaw)).toBe(false)
  })
})

describe('transaction data from cached key encodings', () => {
  const g = Keypair.random().publicKey()
  const footprints = [
    { readOnly: [], readWrite: ['i', 'b:1', `p:${g}:1`] },
    { readOnly: ['i', `a:${g}`], readWrite: [`t:${g}`, 'b:77', `p:${g}:77`] },
    { readOnly: ['b:3'], readWrite: [] },
    { readOnly: [], readWrite: [] },
  ]
  for (const fp of footprints) {
    it(`equals the SDK's encoding for ${fp.readOnly.length} read-only and ${fp.readWrite.length} read-write keys, twice (cache hit)`, () => {
      const fee = resourceFeeFor(fp.readOnly.length, fp.readWrite.length) + 12_345n
      const want = Buffer.from(sorobanData(b, fp, fee).toXdr())
      expect(sorobanDataXdr(b, fp, fee).equals(want)).toBe(true)
      expect(sorobanDataXdr(b, fp, fee).equals(want)).toBe(true)
      expect(xdr.SorobanTransactionData.fromXdr(sorobanDataXdr(b, fp, fee)).resourceFee).toBe(fee)
    })
  }
})

describe('pail keys spliced into a template', () => {
  it('equal the SDK-built key for account farmers at any index, and contract farmers go the long way', () => {
    const farmers = [...Array.from({ length: 20 }, () => Keypair.random().publicKey()), ids.contractId, ids.sacId]
    for (const f of farmers) {
      for (const index of [0, 1, 95_825, 0xffff_ffff, Math.floor(Math.random() * 2 ** 32)]) {
        const id = `p:${f}:${index}`
        const want = Buffer.from(
          xdr.LedgerKey.contractData(
            new xdr.LedgerKeyContractData({
              contract: new Address(ids.contractId).toScAddress(),
              key: xdr.ScVal.scvVec([xdr.ScVal.scvSymbol('Pail'), new Address(f).toScVal(), xdr.ScVal.scvU32(index)]),
              durability: xdr.ContractDataDurability.temporary,
            }),
          ).toXdr(),
        )
        expect(b.ledgerKeyXdr(id).equals(want), id).toBe(true)
        expect(b.keyId(xdr.LedgerKey.fromXdr(b.ledgerKeyXdr(id)))).toBe(id)
      }
    }
  })
})

describe('invoke results', () => {
  it('hash the return value as the SDK does (void, numbers, none)', () => {
    for (const v of [undefined, xdr.ScVal.scvVoid(), xdr.ScVal.scvU32(7), nativeToScVal(123456789n, { type: 'i128' })]) {
      const got = invokeResult(true, v).toXdr('base64')
      const want = xdr.OperationResult.opInner(
        xdr.OperationResultTr.invokeHostFunction(xdr.InvokeHostFunctionResult.invokeHostFunctionSuccess(hash((v ?? xdr.ScVal.scvVoid()).toXdr()))),
      ).toXdr('base64')
      expect(got).toBe(want)
    }
  })
})
