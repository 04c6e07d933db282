// One InvokeHostFunction against the farm contract: decode the call, run it on a
// Scratch, describe the authorization it needs (simulation) or check the auth
// entries it carries (application), and derive footprint and resource fee.
import crypto from 'node:crypto'
import { xdr, Address, StrKey, scValToNative, hash } from '@stellar/stellar-sdk'
import { ContractError, plant, work, harvest } from './contract.js'
import type { Scratch, KeyId } from './state.js'
import type { Ids, XdrBuilder } from './xdr.js'
import { isContract, scAddressStr } from './strkeys.js'

/** A host failure that is not a contract error (bad call, auth, footprint). */
export class HostError extends Error {
  constructor(readonly detail: string) {
    super(detail)
    this.name = 'HostError'
  }
}

export interface Call {
  fn: 'plant' | 'work' | 'harvest'
  farmer: string
  args: xdr.ScVal[]
  contract: xdr.ScAddress
  functionName: string
}

export function decodeCall(op: xdr.HostFunction | undefined, ids: Ids): Call {
  if (!op || op.type !== 'hostFunctionTypeInvokeContract') throw new HostError('Error(Context, InvalidAction)')
  const ic = op.invokeContract
  if (!isContract(ic.contractAddress, ids.contractRaw)) throw new HostError('Error(Storage, MissingValue)')
  const name = ic.functionName.toString()
  if (name !== 'plant' && name !== 'work' && name !== 'harvest') throw new HostError('Error(WasmVm, MissingValue)')
  const [f] = ic.args
  if (ic.args.length !== 3 - (name === 'work' ? 0 : 1) || f?.type !== 'scvAddress') throw new HostError('Error(Value, UnexpectedType)')
  const farmer = scAddressStr(f.address)
  return { fn: name, farmer, args: ic.args, contract: ic.contractAddress, functionName: name }
}

function expect<T extends xdr.ScVal['type']>(v: xdr.ScVal | undefined, type: T): Extract<xdr.ScVal, { type: T }> {
  if (!v || v.type !== type) throw new HostError('Error(Value, UnexpectedType)')
  return v as Extract<xdr.ScVal, { type: T }>
}

/** Runs the call; returns its ScVal return value. Throws ContractError / HostError. */
export function runCall(s: Scratch, call: Call): xdr.ScVal {
  if (call.fn === 'plant') {
    const amount = scValToNative(expect(call.args[1], 'scvI128')) as bigint
    plant(s, call.farmer, amount)
    return xdr.ScVal.scvVoid()
  }
  if (call.fn === 'work') {
    const h = expect(call.args[1], 'scvBytes').bytes.toBytes()
    const nonce = scValToNative(expect(call.args[2], 'scvU64')) as bigint
    return xdr.ScVal.scvU32(work(s, call.farmer, h, nonce))
  }
  const index = expect(call.args[1], 'scvU32').u32
  const reward = harvest(s, call.farmer, index)
  return xdr.ScVal.fromXdr(xdrI128(reward))
}

function xdrI128(n: bigint): Buffer {
  const v = xdr.ScVal.scvI128(new xdr.Int128Parts({ hi: n >> 64n, lo: BigInt.asUintN(64, n) }))
  return Buffer.from(v.toXdr())
}

/** The invocation tree a plant authorizes: plant(…) and, with a stake, the SAC burn it calls. */
export function invocationOf(call: Call, ids: Ids): xdr.SorobanAuthorizedInvocation {
  const sub: xdr.SorobanAuthorizedInvocation[] = []
  const amount = scValToNative(call.args[1]!) as bigint
  if (amount > 0n) {
    sub.push(
      new xdr.SorobanAuthorizedInvocation({
        function: xdr.SorobanAuthorizedFunction.sorobanAuthorizedFunctionTypeContractFn(
          new xdr.InvokeContractArgs({ contractAddress: new Address(ids.sacId).toScAddress(), functionName: 'burn', args: [call.args[0]!, call.args[1]!] }),
        ),
        subInvocations: [],
      }),
    )
  }
  return new xdr.SorobanAuthorizedInvocation({
    function: xdr.SorobanAuthorizedFunction.sorobanAuthorizedFunctionTypeContractFn(
      new xdr.InvokeContractArgs({ contractAddress: call.contract, functionName: call.functionName, args: call.args }),
    ),
    subInvocations: sub,
  })
}

/** Auth entries simulation returns for a call made by `source` (only plant needs auth). */
export function recordAuth(call: Call, source: string, ids: Ids, upgraded: boolean): xdr.SorobanAuthorizationEntry[] {
  if (call.fn !== 'plant') return []
  const rootInvocation = invocationOf(call, ids)
  if (call.farmer === source) {
    return [new xdr.SorobanAuthorizationEntry({ credentials: xdr.SorobanCredentials.sorobanCredentialsSourceAccount(), rootInvocation })]
  }
  const creds = new xdr.SorobanAddressCredentials({
    address: new Address(call.farmer).toScAddress(),
    nonce: crypto.randomBytes(8).readBigInt64BE(),
    signatureExpirationLedger: 0,
    signature: xdr.ScVal.scvVoid(),
  })
  const credentials = upgraded
    ? xdr.SorobanCredentials.sorobanCredentialsAddressV2(creds)
    : xdr.SorobanCredentials.sorobanCredentialsAddress(creds)
  return [new xdr.SorobanAuthorizationEntry({ credentials, rootInvocation })]
}

const keyCache = new Map<string, crypto.KeyObject>()
const KEYS_CACHED_MAX = 100_000

/**
 * Ed25519 check with Node's crypto (~10x the SDK's pure-JS verify), one
 * KeyObject per key. Keys are imported as JWK: OpenSSL 3's DER decoder costs
 * ≈ 120 µs per key, the raw-key JWK path ≈ 15 µs (bench in the commit).
 */
export function verifyEd25519(publicKey: string | Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  const id = typeof publicKey === 'string' ? publicKey : Buffer.from(publicKey).toString('base64url')
  let key = keyCache.get(id)
  if (!key) {
    const raw = typeof publicKey === 'string' ? StrKey.decodeEd25519PublicKey(publicKey) : publicKey
    if (raw.length !== 32) return false
    key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' })
    if (keyCache.size >= KEYS_CACHED_MAX) keyCache.clear()
    keyCache.set(id, key)
  }
  if (signature.length !== 64) return false
  return crypto.verify(null, data, key, signature)
}

/**
 * Checks that `entries` authorize the plant of `call` for its farmer: a
 * source-account entry when the farmer is the transaction source, otherwise an
 * address entry signed by the farmer over the network's auth preimage.
 */
export function checkAuth(call: Call, entries: xdr.SorobanAuthorizationEntry[], source: string, ids: Ids, ledger: number, usedNonces: Map<string, number>): void {
  if (call.fn !== 'plant') return
  let wanted: Uint8Array | undefined
  const matches = (e: xdr.SorobanAuthorizationEntry) => Buffer.from(e.rootInvocation.toXdr()).equals((wanted ??= invocationOf(call, ids).toXdr()))
  for (const e of entries) {
    if (e.rootInvocation.function.type !== 'sorobanAuthorizedFunctionTypeContractFn') continue
    const root = e.rootInvocation.function.contractFn
    if (!isContract(root.contractAddress, ids.contractRaw) || root.functionName.toString() !== 'plant') continue
    const c = e.credentials
    if (c.type === 'sorobanCredentialsSourceAccount') {
      if (call.farmer === source && matches(e)) return
      continue
    }
    const ac = c.type === 'sorobanCredentialsAddress' ? c.address : c.type === 'sorobanCredentialsAddressV2' ? c.addressV2 : null
    if (!ac || scAddressStr(ac.address) !== call.farmer) continue
    if (!matches(e)) throw new HostError('Error(Auth, InvalidAction)')
    if (ac.signatureExpirationLedger < ledger) throw new HostError('Error(Auth, InvalidInput)')
    const nonceKey = `${call.farmer}:${ac.nonce}`
    if (usedNonces.has(nonceKey)) throw new HostError('Error(Auth, ExistingValue)')
    const networkId = ids.networkId
    const pre =
      c.type === 'sorobanCredentialsAddress'
        ? xdr.HashIdPreimage.envelopeTypeSorobanAuthorization(
            new xdr.HashIdPreimageSorobanAuthorization({ networkId, nonce: ac.nonce, signatureExpirationLedger: ac.signatureExpirationLedger, invocation: e.rootInvocation }),
          )
        : xdr.HashIdPreimage.envelopeTypeSorobanAuthorizationWithAddress(
            new xdr.HashIdPreimageSorobanAuthorizationWithAddress({ networkId, nonce: ac.nonce, address: ac.address, signatureExpirationLedger: ac.signatureExpirationLedger, invocation: e.rootInvocation }),
          )
    const payload = hash(Buffer.from(pre.toXdr()))
    if (!signatureMatches(ac.signature, call.farmer, payload)) throw new HostError('Error(Auth, InvalidAction)')
    usedNonces.set(nonceKey, ac.signatureExpirationLedger)
    return
  }
  throw new HostError('Error(Auth, InvalidAction)')
}

function signatureMatches(sig: xdr.ScVal, farmer: string, payload: Uint8Array): boolean {
  if (sig.type !== 'scvVec' || !sig.vec || sig.vec.length !== 1) return false
  const m = sig.vec[0]!
  if (m.type !== 'scvMap' || !m.map) return false
  let pk: Uint8Array | undefined
  let signature: Uint8Array | undefined
  for (const { key, val } of m.map) {
    if (key.type !== 'scvSymbol' || val.type !== 'scvBytes') return false
    if (key.sym.toString() === 'public_key') pk = val.bytes.toBytes()
    else if (key.sym.toString() === 'signature') signature = val.bytes.toBytes()
  }
  if (!pk || !signature) return false
  if (!Buffer.from(pk).equals(Buffer.from(StrKey.decodeEd25519PublicKey(farmer)))) return false
  return verifyEd25519(pk, payload, signature)
}

/** Resource fee model: a base plus a charge per footprint entry (stroops). */
export function resourceFeeFor(readOnly: number, readWrite: number): bigint {
  return 20_000n + 2_000n * BigInt(readOnly) + 10_000n * BigInt(readWrite)
}

/** The footprint a run needs: written keys read-write, the rest read-only. */
export function footprintOf(s: Scratch): { readOnly: KeyId[]; readWrite: KeyId[] } {
  const readWrite = [...s.writes]
  const readOnly = [...s.reads].filter((k) => !s.writes.has(k))
  return { readOnly, readWrite }
}

export const INSTRUCTIONS_PER_CALL = 2_000_000
const diskReadBytesOf = (fp: Footprint) => 1_000 * (fp.readOnly.length + fp.readWrite.length)
const writeBytesOf = (fp: Footprint) => 500 * fp.readWrite.length

type Footprint = { readOnly: KeyId[]; readWrite: KeyId[] }

export function sorobanData(b: XdrBuilder, fp: Footprint, fee: bigint): xdr.SorobanTransactionData {
  return new xdr.SorobanTransactionData({
    ext: xdr.SorobanTransactionDataExt.v0(),
    resources: new xdr.SorobanResources({
      footprint: new xdr.LedgerFootprint({ readOnly: fp.readOnly.map((k) => b.ledgerKey(k)), readWrite: fp.readWrite.map((k) => b.ledgerKey(k)) }),
      instructions: INSTRUCTIONS_PER_CALL,
      diskReadBytes: diskReadBytesOf(fp),
      writeBytes: writeBytesOf(fp),
    }),
    resourceFee: fee,
  })
}

/**
 * sorobanData(…).toXdr(), concatenated from each ledger key's cached encoding:
 * simulation answers every plant with the same few keys, so this skips building
 * and walking the object tree (layout: ext, footprint.readOnly, .readWrite,
 * instructions, diskReadBytes, writeBytes, resourceFee).
 */
export function sorobanDataXdr(b: XdrBuilder, fp: Footprint, fee: bigint): Buffer {
  const parts: Buffer[] = [u32be(0), u32be(fp.readOnly.length)]
  for (const k of fp.readOnly) parts.push(b.ledgerKeyXdr(k))
  parts.push(u32be(fp.readWrite.length))
  for (const k of fp.readWrite) parts.push(b.ledgerKeyXdr(k))
  const tail = Buffer.alloc(20)
  tail.writeUInt32BE(INSTRUCTIONS_PER_CALL, 0)
  tail.writeUInt32BE(diskReadBytesOf(fp), 4)
  tail.writeUInt32BE(writeBytesOf(fp), 8)
  tail.writeBigInt64BE(fee, 12)
  parts.push(tail)
  return Buffer.concat(parts)
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

export function errorString(err: unknown): string | null {
  if (err instanceof ContractError) return `HostError: ${err.message}`
  if (err instanceof HostError) return `HostError: ${err.detail}`
  return null
}
