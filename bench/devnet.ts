// `npm run bench -- devnet [--farmers N] [--ledger-ms MS] [--json]`: how fast the
// devnet takes plants. N funded farmer accounts plant in parallel through the
// real SDK over HTTP (simulate → assemble → sign → send), at most CONCURRENCY
// requests in flight; we measure plants/s from the first simulate until all are
// applied, and how many ledgers passed from the first send until the last one
// was applied (goal: ≤ 2 at 1000 ms ledgers). Baseline in the same run: the same
// count of getLatestLedger round trips (the HTTP server's ceiling); ratio =
// plant throughput / baseline throughput. Client and devnet share this process.
import crypto from 'node:crypto'
import { Keypair, TransactionBuilder, Account, rpc, Contract, Address, nativeToScVal, type Transaction } from '@stellar/stellar-sdk'
import { startDevnet } from '../src/devnet/index.js'
import { STROOPS_PER_XLM } from '../src/devnet/state.js'
import { report } from './stats.js'

const CONCURRENCY = 64
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** Node's Ed25519 (~10x the SDK's pure-JS signer): the client must not be the bottleneck. */
function signFast(tx: Transaction, kp: Keypair): void {
  const key = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, kp.rawSecretKey()]), format: 'der', type: 'pkcs8' })
  tx.addSignature(kp.publicKey(), crypto.sign(null, tx.hash(), key).toString('base64'))
}

/** The devnet's own cost per plant, no HTTP: simulate all, send all, one ledger close. */
function inProcess(net: Awaited<ReturnType<typeof startDevnet>>, kps: Keypair[], pass: string, contract: Contract) {
  const st = net.chain.state
  const raw = kps.map((kp) =>
    new TransactionBuilder(new Account(kp.publicKey(), st.accounts.get(kp.publicKey())!.seq.toString()), { fee: '100', networkPassphrase: pass })
      .addOperation(contract.call('plant', new Address(kp.publicKey()).toScVal(), nativeToScVal(0n, { type: 'i128' })))
      .setTimeout(60)
      .build(),
  )
  const t0 = performance.now()
  const sims = raw.map((tx) => net.chain.simulate(tx.toXDR(), true))
  const simMs = performance.now() - t0
  const ready = raw.map((tx, i) => {
    const sim = sims[i]!
    const parsed = { ...sim, transactionData: sim.transactionData, results: sim.results } as unknown as rpc.Api.RawSimulateTransactionResponse
    const t = rpc.assembleTransaction(tx, parsed).build()
    signFast(t, kps[i]!)
    return t.toXDR()
  })
  const t1 = performance.now()
  let pendingCount = 0
  for (const b64 of ready) if (net.chain.send(b64, false).status === 'PENDING') pendingCount++
  const sendMs = performance.now() - t1
  const t2 = performance.now()
  const { applied } = net.chain.closeLedger()
  const applyMs = performance.now() - t2
  const totalMs = simMs + sendMs + applyMs
  return { pendingCount, applied, simMs, sendMs, applyMs, perPlantUs: (totalMs * 1000) / kps.length, capacityPerSecond: (kps.length * 1000) / totalMs }
}

function flag(argv: string[], name: string, def: number): number {
  const i = argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(argv[i + 1]) : def
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`)
  return v
}

async function pool<T>(items: T[], f: (x: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
      while (next < items.length) await f(items[next++]!)
    }),
  )
}

export async function run(argv: string[]): Promise<void> {
  const farmers = flag(argv, 'farmers', 1000)
  const ledgerMs = flag(argv, 'ledger-ms', 1000)
  const net = await startDevnet({ port: 0, ledgerMs })
  try {
    const server = new rpc.Server(net.info.rpcUrl, { allowHttp: true })
    server.httpClient.defaults.timeout = 30_000
    const pass = net.info.networkPassphrase
    const contract = new Contract(net.info.contractId)
    // Funded accounts are seeded straight into the ledger: funding is not what we measure.
    const st = net.chain.state
    const kps = Array.from({ length: farmers }, () => Keypair.random())
    for (const kp of kps) st.accounts.set(kp.publicKey(), { balance: 10_000n * STROOPS_PER_XLM, seq: BigInt(st.sequence) << 32n, subentries: 0, modified: st.sequence })

    const extra = Array.from({ length: farmers }, () => Keypair.random())
    for (const kp of extra) st.accounts.set(kp.publicKey(), { balance: 10_000n * STROOPS_PER_XLM, seq: BigInt(st.sequence) << 32n, subentries: 0, modified: st.sequence })
    const cap = inProcess(net, extra, pass, contract)

    // baseline: getLatestLedger round trips
    const b0 = performance.now()
    await pool(kps, async () => {
      await server.getLatestLedger()
    })
    const baselineSeconds = (performance.now() - b0) / 1000

    const hashes: string[] = []
    let firstSendLedger = 0
    let failures = 0
    const t0 = performance.now()
    await pool(kps, async (kp) => {
      const seq = (st.accounts.get(kp.publicKey())!.seq).toString()
      const tx = new TransactionBuilder(new Account(kp.publicKey(), seq), { fee: '100', networkPassphrase: pass })
        .addOperation(contract.call('plant', new Address(kp.publicKey()).toScVal(), nativeToScVal(0n, { type: 'i128' })))
        .setTimeout(60)
        .build()
      const sim = await server.simulateTransaction(tx)
      if (!rpc.Api.isSimulationSuccess(sim)) {
        failures++
        return
      }
      const ready = rpc.assembleTransaction(tx, sim).build()
      signFast(ready, kp)
      if (firstSendLedger === 0) firstSendLedger = net.chain.state.sequence
      const sent = await server.sendTransaction(ready)
      if (sent.status === 'PENDING') hashes.push(sent.hash)
      else failures++
    })
    const sentSeconds = (performance.now() - t0) / 1000
    let lastLedger = 0
    const deadline = Date.now() + 10 * ledgerMs + 10_000
    let pending = hashes
    while (pending.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
      pending = pending.filter((hh) => {
        const r = net.chain.getTransaction(hh)
        if (r.status === 'NOT_FOUND') return true
        if (r.status !== 'SUCCESS') failures++
        lastLedger = Math.max(lastLedger, Number(r.ledger))
        return false
      })
    }
    const appliedSeconds = (performance.now() - t0) / 1000
    const applied = hashes.length - pending.length
    const plantsPerSecond = applied / appliedSeconds
    const baselinePerSecond = farmers / baselineSeconds
    report(argv, 'devnet', {
      farmers,
      ledgerMs,
      inProcessSimulateMs: +cap.simMs.toFixed(1),
      inProcessSendMs: +cap.sendMs.toFixed(1),
      inProcessApplyOneCloseMs: +cap.applyMs.toFixed(1),
      inProcessAppliedInOneClose: cap.applied,
      inProcessUsPerPlant: Math.round(cap.perPlantUs),
      inProcessPlantsPerSecond: Math.round(cap.capacityPerSecond),
      concurrency: CONCURRENCY,
      applied,
      failures,
      simulateSendSeconds: +sentSeconds.toFixed(3),
      simulateSendPerSecond: Math.round(farmers / sentSeconds),
      allAppliedSeconds: +appliedSeconds.toFixed(3),
      plantsAppliedPerSecond: Math.round(plantsPerSecond),
      ledgersFirstSendToAllApplied: lastLedger - firstSendLedger,
      goalWithin2Ledgers: lastLedger - firstSendLedger <= 2 && applied === farmers,
      baselineGetLatestLedgerPerSecond: Math.round(baselinePerSecond),
      ratioSimulateSendToBaseline: +(farmers / sentSeconds / baselinePerSecond).toFixed(3),
      ratioInProcessToBaseline: +(cap.capacityPerSecond / baselinePerSecond).toFixed(3),
    })
  } finally {
    await net.close()
  }
}
