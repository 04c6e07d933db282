// Shared helpers for devnet tests: a devnet on port 0 with fast ledgers and
// real SDK clients over HTTP.
import { rpc, Keypair, TransactionBuilder, Operation, Asset, Contract, Address, nativeToScVal, xdr, type Transaction } from '@stellar/stellar-sdk'
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
  const account = await server.getAccount(kp.publicKey())
  const tx = new TransactionBuilder(account, { fee: '100', networkPassphrase: net.info.networkPassphrase })
    .addOperation(Operation.changeTrust({ asset: kaleAsset(net) }))
    .setTimeout(30)
    .build()
  tx.sign(kp)
  await submit(server, tx)
  return kp
}

export async function submit(server: rpc.Server, tx: Transaction): Promise<rpc.Api.GetTransactionResponse> {
  const sent = await server.sendTransaction(tx)
  if (sent.status !== 'PENDING') throw new Error(`send ${sent.status}: ${sent.errorResult?.result().switch?.().name ?? JSON.stringify(sent.errorResult)}`)
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
  const account = await server.getAccount(source.publicKey())
  const tx = new TransactionBuilder(account, { fee: '100', networkPassphrase: net.info.networkPassphrase }).addOperation(op).setTimeout(30).build()
  const sim = await server.simulateTransaction(tx)
  if (rpc.Api.isSimulationError(sim)) return { error: sim.error }
  const ready = rpc.assembleTransaction(tx, sim).build()
  ready.sign(source)
  return { res: await submit(server, ready) }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}
