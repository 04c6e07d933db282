// Shared helpers for devnet tests: a devnet on port 0 with fast ledgers and
// real SDK clients over HTTP.
import { rpc, Keypair, TransactionBuilder, Operation, Asset, Contract, Address, nativeToScVal, scValToNative, xdr, type Transaction } from '@stellar/stellar-sdk'
import { startDevnet, type Devnet, type DevnetOptions } from '../../src/devnet/index.js'

export async function devnet(opts: DevnetOptions = {}): Promise<{ net: Devnet; server: rpc.Server }> {
  const net = await startDevnet({ port: 0, ledgerMs: 50, ...opts })
  const server = new rpc.Server(net.info.rpcUrl, { allowHttp: true })
  server.httpClient.defaults.timeout = 5_000
  return { net, server }
}

export function kaleAsset(net: Devnet): Asset {
  const [code, issuer] = net.info.asset.split(':')
  return new Asset(code!, issuer!)
}

/** A farmer funded by friendbot with a KALE trustline. */
export async function farmer(server: rpc.Server, net: Devnet, kp = Keypair.random()): Promise<Keypair> {
  await server.requestAirdrop(kp.publicKey())
  await submit(server, await trustlineTx(server, net, kp))
  return kp
}

/** A signed changeTrust to the KALE asset from `kp`. */
async function trustlineTx(server: rpc.Server, net: Devnet, kp: Keypair): Promise<Transaction> {
  const account = await server.getAccount(kp.publicKey())
  const tx = new TransactionBuilder(account, { fee: '100', networkPassphrase: net.info.networkPassphrase })
    .addOperation(Operation.changeTrust({ asset: kaleAsset(net) }))
    .setTimeout(30)
    .build()
  tx.sign(kp)
  return tx
}

export async function submit(server: rpc.Server, tx: Transaction): Promise<rpc.Api.GetTransactionResponse> {
  const sent = await server.sendTransaction(tx)
  if (sent.status !== 'PENDING') throw new Error(`send ${sent.status}: ${sent.errorResult?.result.type ?? ""}`)
  const done = await server.pollTransaction(sent.hash, { attempts: 100, sleepStrategy: () => 20 })
  return done
}

export function call(net: Devnet, fn: string, ...args: xdr.ScVal[]): xdr.Operation {
  return new Contract(net.info.contractId).call(fn, ...args)
}

export const addr = (g: string) => new Address(g).toScVal()
export const i128 = (n: bigint) => nativeToScVal(n, { type: 'i128' })
export const u64 = (n: bigint) => nativeToScVal(n, { type: 'u64' })
export const u32 = (n: number) => xdr.ScVal.scvU32(n)

/** simulate → assemble → sign → send → poll, as the pool does. Returns the final response or the simulation error. */
export async function invoke(server: rpc.Server, net: Devnet, source: Keypair, op: xdr.Operation): Promise<{ error?: string; res?: rpc.Api.GetTransactionResponse }> {
  const { error, tx } = await prepare(server, net, source, op)
  return error !== undefined || !tx ? { error: error ?? 'simulation gave no transaction' } : { res: await submit(server, tx) }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}

// ---- manual-clock mode: ledgerMs huge, the test closes ledgers itself ----

export async function manualDevnet(opts: DevnetOptions = {}): Promise<{ net: Devnet; server: rpc.Server }> {
  return devnet({ ledgerMs: 600_000, ...opts })
}

export function closeLedgers(net: Devnet, n: number): void {
  for (let i = 0; i < n; i++) net.closeLedger()
}

/** Friendbot in manual mode: close ledgers until the request settles. */
export async function fundManual(server: rpc.Server, net: Devnet, kp = Keypair.random()): Promise<Keypair> {
  let done = false
  const p = server.requestAirdrop(kp.publicKey()).finally(() => (done = true))
  for (let i = 0; i < 500 && !done; i++) {
    await new Promise((r) => setTimeout(r, 2))
    net.closeLedger()
  }
  await p
  return kp
}

export async function sendClose(server: rpc.Server, net: Devnet, tx: Transaction): Promise<{ sent: rpc.Api.SendTransactionResponse; res?: rpc.Api.GetTransactionResponse }> {
  const sent = await server.sendTransaction(tx)
  if (sent.status !== 'PENDING') return { sent }
  net.closeLedger()
  return { sent, res: await server.getTransaction(sent.hash) }
}

export async function farmerManual(server: rpc.Server, net: Devnet, kp = Keypair.random()): Promise<Keypair> {
  await fundManual(server, net, kp)
  const { res } = await sendClose(server, net, await trustlineTx(server, net, kp))
  if (res?.status !== 'SUCCESS') throw new Error('changeTrust failed')
  return kp
}

/** Builds and simulates a contract call; returns the simulation error or the signed, assembled transaction. */
export async function prepare(server: rpc.Server, net: Devnet, source: Keypair, op: xdr.Operation): Promise<{ error?: string; tx?: Transaction }> {
  const account = await server.getAccount(source.publicKey())
  const tx = new TransactionBuilder(account, { fee: '100', networkPassphrase: net.info.networkPassphrase }).addOperation(op).setTimeout(30).build()
  const sim = await server.simulateTransaction(tx)
  if (rpc.Api.isSimulationError(sim)) return { error: sim.error }
  const ready = rpc.assembleTransaction(tx, sim).build()
  ready.sign(source)
  return { tx: ready }
}

export async function invokeClose(
  server: rpc.Server,
  net: Devnet,
  source: Keypair,
  op: xdr.Operation,
): Promise<{ error?: string; sent?: rpc.Api.SendTransactionResponse; res?: rpc.Api.GetTransactionResponse }> {
  const p = await prepare(server, net, source, op)
  if (p.error) return { error: p.error }
  return sendClose(server, net, p.tx!)
}

/** Error(Contract, #N) of a failed transaction, from its diagnostic events. */
export function contractErrorOf(res: rpc.Api.GetTransactionResponse | undefined): number | null {
  if (!res || res.status !== 'FAILED') return null
  for (const ev of res.diagnosticEventsXdr ?? []) {
    const body = ev.event.body
    const topic = body.v0.topics[1]
    if (topic?.type === 'scvError' && topic.error.type === 'sceContract') return topic.error.contractCode
  }
  return null
}

export async function readInstance(server: rpc.Server, net: Devnet): Promise<{ farmIndex: number; farmBlock: Record<string, unknown> }> {
  const r = await server.getLedgerEntries(new Contract(net.info.contractId).getFootprint())
  const v = r.entries[0]!.val
  if (v.type !== 'contractData') throw new Error('not contract data')
  const inst = v.contractData.val
  if (inst.type !== 'scvContractInstance') throw new Error('not an instance')
  const out: Record<string, unknown> = { farmIndex: 0 }
  for (const e of inst.instance.storage ?? []) {
    const name = e.key.type === 'scvVec' ? String(e.key.vec?.[0]?.type === 'scvSymbol' ? e.key.vec[0].sym.toString() : '') : ''
    out[name === 'FarmIndex' ? 'farmIndex' : name === 'FarmBlock' ? 'farmBlock' : name] = scValToNative(e.val)
  }
  return out as { farmIndex: number; farmBlock: Record<string, unknown> }
}

export function tempKey(net: Devnet, key: xdr.ScVal): xdr.LedgerKey {
  return xdr.LedgerKey.contractData(new xdr.LedgerKeyContractData({ contract: new Address(net.info.contractId).toScAddress(), key, durability: xdr.ContractDataDurability.temporary }))
}

export const blockKey = (net: Devnet, i: number) => tempKey(net, xdr.ScVal.scvVec([xdr.ScVal.scvSymbol('Block'), u32(i)]))
export const pailKey = (net: Devnet, farmer: string, i: number) => tempKey(net, xdr.ScVal.scvVec([xdr.ScVal.scvSymbol('Pail'), addr(farmer), u32(i)]))

export async function readTemp(server: rpc.Server, key: xdr.LedgerKey): Promise<{ value: Record<string, unknown>; liveUntil?: number } | null> {
  const r = await server.getLedgerEntries(key)
  const e = r.entries[0]
  if (!e || e.val.type !== 'contractData') return null
  return { value: scValToNative(e.val.contractData.val) as Record<string, unknown>, ...(e.liveUntilLedgerSeq !== undefined ? { liveUntil: e.liveUntilLedgerSeq } : {}) }
}

export async function kaleBalance(server: rpc.Server, net: Devnet, g: string): Promise<bigint | null> {
  const key = xdr.LedgerKey.trustline(new xdr.LedgerKeyTrustLine({ accountId: Keypair.fromPublicKey(g).xdrPublicKey(), asset: kaleAsset(net).toTrustLineXdrObject() }))
  const r = await server.getLedgerEntries(key)
  const e = r.entries[0]
  return e && e.val.type === 'trustline' ? BigInt(e.val.trustLine.balance.toString()) : null
}

export type Net = Devnet
export { Contract }
