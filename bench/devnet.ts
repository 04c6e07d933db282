// `npm run bench -- devnet [--farmers N] [--ledger-ms MS] [--rounds R] [--json]`:
// how fast the devnet takes plants, with its own cost measured apart from the
// client's.
//
// 1. In-process (R rounds of N fresh farmers): the devnet's CPU per plant for
//    simulate, send and the apply at one ledger close, from process.cpuUsage();
//    the client's work (build, assemble, sign) happens outside the timed spans.
//    Then a farm cycle as the pool's chain bench runs it (plant, work a ledger
//    later, harvest after the rollover): the same three figures per step.
// 2. Over HTTP (R rounds): the load runs in a child process, so this process's
//    CPU is the devnet's alone (HTTP included) and the child's is the client's.
//    e2e: the real SDK per farmer (build → simulateTransaction → assemble →
//    sign → sendTransaction, at most CONCURRENCY in flight) — client-bound.
//    burst: all simulations first, then every pre-signed envelope sent with a
//    bare JSON-RPC client — the devnet's own ceiling. We count the ledgers from
//    the first send (its response's latestLedger) until the last plant applied:
//    goal ≤ 2 at --ledger-ms 1000 with 1000 farmers — and the event loop's
//    longest stall (the close applies the whole queue at once).
// Baseline in the same run: N getLatestLedger round trips from the child (the
// HTTP server's ceiling); ratio = plants/s ÷ baseline round trips/s.
// Figures are medians over rounds; the machine is shared, so the load average
// is printed with them.
import crypto from 'node:crypto'
import os from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import http from 'node:http'
import { fork, type ChildProcess } from 'node:child_process'
import { TransactionBuilder, Account, rpc, Contract, Address, nativeToScVal, StrKey, xdr, type Transaction } from '@stellar/stellar-sdk'
import { startDevnet, type Devnet } from '../src/devnet/index.js'
import { STROOPS_PER_XLM, TRUSTLINE_LIMIT_MAX } from '../src/devnet/state.js'
import { median, report } from './stats.js'
import { keccak256 } from '../src/kale/keccak.js'
import { preimage } from '../src/kale/preimage.js'

const CONCURRENCY = 64
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const APPLY_WAIT_LEDGERS_MAX = 10
/** ledgers in a 300 s block (5 s each) */
const BLOCK_LEDGERS = 60

interface Farmer {
  g: string
  raw: Buffer
  key: crypto.KeyObject
}

/** Keys from Node's Ed25519 (the SDK's Keypair derives public keys in pure JS, ~1 ms each). */
function farmers(n: number): Farmer[] {
  return Array.from({ length: n }, () => {
    const key = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, crypto.randomBytes(32)]), format: 'der', type: 'pkcs8' })
    const raw = Buffer.from(crypto.createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(12))
    return { g: StrKey.encodeEd25519PublicKey(raw), raw, key }
  })
}

/** Signs with Node's Ed25519 and appends the signature directly: tx.addSignature would re-verify it in pure JS. */
function signFast(tx: Transaction, f: Farmer): void {
  tx.signatures.push(new xdr.DecoratedSignature({ hint: f.raw.subarray(28), signature: crypto.sign(null, tx.hash(), f.key) }))
}

function plantTx(f: Farmer, seq: string, pass: string, contract: Contract): Transaction {
  return new TransactionBuilder(new Account(f.g, seq), { fee: '100', networkPassphrase: pass })
    .addOperation(contract.call('plant', new Address(f.g).toScVal(), nativeToScVal(0n, { type: 'i128' })))
    .setTimeout(60)
    .build()
}

const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Funded accounts (with a KALE trustline: harvests mint into it) seeded straight into the ledger: funding is not what we measure. */
function seedAccounts(net: Devnet, gs: readonly string[]): string {
  const st = net.chain.state
  const seq = BigInt(st.sequence) << 32n
  for (const g of gs) {
    st.accounts.set(g, { balance: 10_000n * STROOPS_PER_XLM, seq, subentries: 1, modified: st.sequence })
    st.trustlines.set(g, { balance: 0n, limit: TRUSTLINE_LIMIT_MAX, modified: st.sequence })
  }
  return seq.toString()
}

interface InvokeCost {
  ok: number
  simUs: number
  sendUs: number
  applyUs: number
}

/** Simulates, sends and applies (one close) one call per farmer; the devnet's CPU µs per call of each step. */
function invokeRound(net: Devnet, fs: readonly Farmer[], op: (f: Farmer) => xdr.Operation): InvokeCost {
  const pass = net.info.networkPassphrase
  const st = net.chain.state
  const raw = fs.map((f) => new TransactionBuilder(new Account(f.g, st.accounts.get(f.g)!.seq.toString()), { fee: '100', networkPassphrase: pass }).addOperation(op(f)).setTimeout(60).build())
  const b64 = raw.map((t) => t.toXDR())
  let c = cpuMs()
  const sims = b64.map((b) => net.chain.simulate(b, true))
  const simMs = cpuMs() - c
  const ready = raw.flatMap((tx, i) => {
    if ('error' in sims[i]!) return []
    const t = rpc.assembleTransaction(tx, sims[i] as unknown as rpc.Api.RawSimulateTransactionResponse).build()
    signFast(t, fs[i]!)
    return [t.toXDR()]
  })
  c = cpuMs()
  const hashes: string[] = []
  for (const b of ready) {
    const r = net.chain.send(b, false)
    if (r.status === 'PENDING') hashes.push(r.hash)
  }
  const sendMs = cpuMs() - c
  c = cpuMs()
  net.chain.closeLedger()
  const applyMs = cpuMs() - c
  const us = (ms: number) => (ms * 1000) / fs.length
  return { ok: hashes.filter((h) => net.chain.getTransaction(h).status === 'SUCCESS').length, simUs: us(simMs), sendUs: us(sendMs), applyUs: us(applyMs) }
}

const plantOp = (contract: Contract) => (f: Farmer) => contract.call('plant', new Address(f.g).toScVal(), nativeToScVal(0n, { type: 'i128' }))

/** One in-process round of N fresh farmers planting. */
function inProcessRound(net: Devnet, n: number): InvokeCost {
  const fs = farmers(n)
  seedAccounts(net, fs.map((f) => f.g))
  return invokeRound(net, fs, plantOp(new Contract(net.info.contractId)))
}

/**
 * A farm cycle as the pool's chain bench runs it (1000 farmers per block):
 * plant, work one ledger later, then — after the 300 s rollover, opened by one
 * more plant — harvest. Each step's devnet CPU per call.
 */
function inProcessCycle(net: Devnet, n: number): { plant: InvokeCost; work: InvokeCost; harvest: InvokeCost } {
  const contract = new Contract(net.info.contractId)
  const st = net.chain.state
  const fs = farmers(n + 1)
  const opener = fs.pop()!
  seedAccounts(net, [...fs, opener].map((f) => f.g))
  // start from a fresh block so every step lands in the same one
  for (let i = 0; i < BLOCK_LEDGERS; i++) net.chain.closeLedger()
  const plant = invokeRound(net, fs, plantOp(contract))
  const index = st.instance.farmIndex
  const entropy = st.blocks.get(index)!.value.entropy
  const work = invokeRound(net, fs, (f) => {
    const nonce = BigInt(crypto.randomInt(2 ** 32))
    const hash = keccak256(preimage(index, nonce, entropy, f.g))
    return contract.call('work', new Address(f.g).toScVal(), xdr.ScVal.scvBytes(Buffer.from(hash)), nativeToScVal(nonce, { type: 'u64' }))
  })
  for (let i = 0; i < BLOCK_LEDGERS; i++) net.chain.closeLedger()
  invokeRound(net, [opener], plantOp(contract))
  const harvest = invokeRound(net, fs, (f) => contract.call('harvest', new Address(f.g).toScVal(), xdr.ScVal.scvU32(index)))
  return { plant, work, harvest }
}

// ---- the load child ----

type ToChild =
  | { type: 'baseline' }
  | { type: 'plant'; round: number; seq: string }
  | { type: 'simulate'; round: number; seq: string }
  | { type: 'send'; round: number }
  | { type: 'exit' }
type FromChild =
  | { type: 'keys'; rounds: string[][] }
  | { type: 'baseline'; seconds: number; cpuMs: number }
  | { type: 'simulated'; seconds: number; cpuMs: number; failures: number }
  | { type: 'sent'; hashes: string[]; firstSendLedger: number; seconds: number; cpuMs: number; failures: number }

async function pool<T>(items: readonly T[], f: (x: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
      while (next < items.length) await f(items[next++]!)
    }),
  )
}

/** A bare JSON-RPC poster (keep-alive node:http, no SDK): the burst's client must cost little. */
function rawRpc(url: string): (method: string, params: unknown) => Promise<Record<string, unknown>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  return (method, params) =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          try {
            resolve((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result: Record<string, unknown> }).result ?? {})
          } catch (err) {
            reject(err as Error)
          }
        })
      })
      req.on('error', reject)
      req.end(body)
    })
}

async function loadChild(argv: string[]): Promise<void> {
  const url = argv[argv.indexOf('--rpc') + 1]!
  const pass = argv[argv.indexOf('--passphrase') + 1]!
  const contract = new Contract(argv[argv.indexOf('--contract') + 1]!)
  const n = Number(argv[argv.indexOf('--farmers') + 1])
  const rounds = Number(argv[argv.indexOf('--rounds') + 1])
  const server = new rpc.Server(url, { allowHttp: true })
  server.httpClient.defaults.timeout = 30_000
  const raw = rawRpc(url)
  // rounds 0..R-1: end-to-end through the SDK; R..2R-1: bursts
  const byRound = Array.from({ length: 2 * rounds }, () => farmers(n))
  const signed = new Map<number, string[]>()
  const post = (m: FromChild): void => void process.send!(m)
  /** A plant through the SDK client flow: simulate, assemble, sign; undefined when the simulation fails. */
  const prepared = async (f: Farmer, seq: string): Promise<Transaction | undefined> => {
    const tx = plantTx(f, seq, pass, contract)
    const sim = await server.simulateTransaction(tx)
    if (!rpc.Api.isSimulationSuccess(sim)) return undefined
    const ready = rpc.assembleTransaction(tx, sim).build()
    signFast(ready, f)
    return ready
  }
  post({ type: 'keys', rounds: byRound.map((fs) => fs.map((f) => f.g)) })
  const handle = async (m: ToChild): Promise<void> => {
    if (m.type === 'exit') process.exit(0)
    const t0 = performance.now()
    const c0 = cpuMs()
    const done = () => ({ seconds: (performance.now() - t0) / 1000, cpuMs: cpuMs() - c0 })
    const hashes: string[] = []
    let failures = 0
    let firstSendLedger = 0
    const sentOk = (latestLedger: number, hash: string) => {
      if (firstSendLedger === 0 || latestLedger < firstSendLedger) firstSendLedger = latestLedger
      hashes.push(hash)
    }
    if (m.type === 'baseline') {
      await pool(byRound[0]!, async () => {
        await server.getLatestLedger()
      })
      return post({ type: 'baseline', ...done() })
    }
    if (m.type === 'plant') {
      await pool(byRound[m.round]!, async (f) => {
        const ready = await prepared(f, m.seq)
        if (!ready) return void failures++
        const sent = await server.sendTransaction(ready)
        if (sent.status !== 'PENDING') return void failures++
        sentOk(sent.latestLedger, sent.hash)
      })
      return post({ type: 'sent', hashes, firstSendLedger, ...done(), failures })
    }
    if (m.type === 'simulate') {
      const out: string[] = []
      await pool(byRound[m.round]!, async (f) => {
        const ready = await prepared(f, m.seq)
        if (!ready) return void failures++
        out.push(ready.toXDR())
      })
      signed.set(m.round, out)
      return post({ type: 'simulated', ...done(), failures })
    }
    await pool(signed.get(m.round) ?? [], async (b64) => {
      const r = await raw('sendTransaction', { transaction: b64 })
      if (r.status !== 'PENDING') return void failures++
      sentOk(Number(r.latestLedger), String(r.hash))
    })
    post({ type: 'sent', hashes, firstSendLedger, ...done(), failures })
  }
  process.on('message', (m: ToChild) => void handle(m))
}

function ask<T extends FromChild['type']>(child: ChildProcess, msg: ToChild | null, type: T): Promise<Extract<FromChild, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: FromChild) => {
      if (m.type !== type) return
      child.off('message', onMsg)
      child.off('exit', onExit)
      resolve(m as Extract<FromChild, { type: T }>)
    }
    const onExit = (code: number | null) => reject(new Error(`load child exited (${code}) before ${type}`))
    child.on('message', onMsg)
    child.once('exit', onExit)
    if (msg) child.send(msg)
  })
}

/** Waits (bounded) until every hash is applied; returns the last ledger and failed count. */
async function appliedBy(net: Devnet, hashes: readonly string[], ledgerMs: number): Promise<{ lastLedger: number; applied: number; failed: number }> {
  let pending = hashes
  let lastLedger = 0
  let failed = 0
  const deadline = Date.now() + APPLY_WAIT_LEDGERS_MAX * ledgerMs + 10_000
  while (pending.length > 0 && Date.now() < deadline) {
    pending = pending.filter((h) => {
      const r = net.chain.getTransaction(h)
      if (r.status === 'NOT_FOUND') return true
      if (r.status !== 'SUCCESS') failed++
      lastLedger = Math.max(lastLedger, Number(r.ledger))
      return false
    })
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 20))
  }
  return { lastLedger, applied: hashes.length - pending.length, failed }
}

function flag(argv: string[], name: string, def: number): number {
  const i = argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(argv[i + 1]) : def
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`)
  return v
}

const round1 = (x: number) => Math.round(x * 10) / 10
const load = () => os.loadavg().map((x) => round1(x))

export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--load-child')) return loadChild(argv)
  const n = flag(argv, 'farmers', 1000)
  const ledgerMs = flag(argv, 'ledger-ms', 1000)
  const rounds = flag(argv, 'rounds', 3)
  const loadBefore = load()
  const net = await startDevnet({ port: 0, ledgerMs })
  let child: ChildProcess | null = null
  try {
    // a warm-up round, then the measured ones
    inProcessRound(net, Math.min(n, 200))
    const inproc = Array.from({ length: rounds }, () => inProcessRound(net, n))
    const cycles = Array.from({ length: rounds }, () => inProcessCycle(net, n))
    const cyc = (step: 'plant' | 'work' | 'harvest') => {
      const xs = cycles.map((c) => c[step])
      return { simUs: Math.round(median(xs.map((x) => x.simUs))), sendUs: Math.round(median(xs.map((x) => x.sendUs))), applyUs: Math.round(median(xs.map((x) => x.applyUs))), ok: xs.map((x) => x.ok) }
    }

    const args = ['devnet', '--load-child', '--rpc', net.info.rpcUrl, '--passphrase', net.info.networkPassphrase, '--contract', net.info.contractId, '--farmers', String(n), '--rounds', String(rounds)]
    child = fork(process.argv[1]!, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const keys = await ask(child, null, 'keys')
    const cBase = cpuMs()
    const base = await ask(child, { type: 'baseline' }, 'baseline')
    const baseDevnetMs = cpuMs() - cBase
    const baselinePerSecond = n / base.seconds
    const e2e: Array<{ plantsPerSecond: number; ledgers: number; applied: number; failures: number; devnetUs: number; clientUs: number; sendSeconds: number; appliedSeconds: number }> = []
    for (let r = 0; r < rounds; r++) {
      const seq = seedAccounts(net, keys.rounds[r]!)
      const t0 = performance.now()
      const c0 = cpuMs()
      const sent = await ask(child, { type: 'plant', round: r, seq }, 'sent')
      const done = await appliedBy(net, sent.hashes, ledgerMs)
      const seconds = (performance.now() - t0) / 1000
      e2e.push({
        plantsPerSecond: done.applied / seconds,
        ledgers: done.lastLedger - sent.firstSendLedger,
        applied: done.applied - done.failed,
        failures: sent.failures + done.failed + (sent.hashes.length - done.applied),
        devnetUs: ((cpuMs() - c0) * 1000) / n,
        clientUs: (sent.cpuMs * 1000) / n,
        sendSeconds: sent.seconds,
        appliedSeconds: seconds,
      })
    }
    // bursts: simulate all first (pre-signed), then send all with a bare JSON-RPC
    // client — the devnet's own ceiling, without the SDK client's ~4 ms per plant
    const burst: Array<{ simUs: number; sendUs: number; sendsPerSecond: number; ledgers: number; applied: number; failures: number; plantsPerSecond: number }> = []
    let loopMaxMs = 0
    for (let r = 0; r < rounds; r++) {
      const round = rounds + r
      const seq = seedAccounts(net, keys.rounds[round]!)
      const c0 = cpuMs()
      const sim = await ask(child, { type: 'simulate', round, seq }, 'simulated')
      const simMs = cpuMs() - c0
      // a fresh histogram per round: re-enabling one counts the disabled gap as a delay
      const loop = monitorEventLoopDelay({ resolution: 10 })
      loop.enable()
      const t1 = performance.now()
      const c1 = cpuMs()
      const sent = await ask(child, { type: 'send', round }, 'sent')
      const sendMs = cpuMs() - c1
      const done = await appliedBy(net, sent.hashes, ledgerMs)
      loop.disable()
      loopMaxMs = Math.max(loopMaxMs, loop.max / 1e6)
      burst.push({
        simUs: (simMs * 1000) / n,
        sendUs: (sendMs * 1000) / n,
        sendsPerSecond: n / sent.seconds,
        ledgers: done.lastLedger - sent.firstSendLedger,
        applied: done.applied - done.failed,
        failures: sim.failures + sent.failures + done.failed + (sent.hashes.length - done.applied),
        plantsPerSecond: done.applied / ((performance.now() - t1) / 1000),
      })
    }
    const bmed = (f: (x: (typeof burst)[number]) => number) => median(burst.map(f))
    const med = (f: (x: (typeof e2e)[number]) => number) => median(e2e.map(f))
    const plantsPerSecond = med((x) => x.plantsPerSecond)
    const ledgers = med((x) => x.ledgers)
    report(argv, 'devnet', {
      farmers: n,
      ledgerMs,
      rounds,
      loadAvgBefore: loadBefore,
      loadAvgAfter: load(),
      cpus: os.cpus().length,
      inProcessSimulateUsPerPlant: Math.round(median(inproc.map((x) => x.simUs))),
      inProcessSendUsPerPlant: Math.round(median(inproc.map((x) => x.sendUs))),
      inProcessApplyUsPerPlant: Math.round(median(inproc.map((x) => x.applyUs))),
      inProcessUsPerPlant: Math.round(median(inproc.map((x) => x.simUs + x.sendUs + x.applyUs))),
      inProcessPlantsPerCpuSecond: Math.round(1e6 / median(inproc.map((x) => x.simUs + x.sendUs + x.applyUs))),
      inProcessAppliedPerRound: inproc.map((x) => x.ok),
      cycleWorkUs: cyc('work'),
      cycleHarvestUs: cyc('harvest'),
      cyclePlantUs: cyc('plant'),
      e2eDevnetCpuUsPerPlant: Math.round(med((x) => x.devnetUs)),
      e2eClientCpuUsPerPlant: Math.round(med((x) => x.clientUs)),
      e2eSimulateSendSeconds: +med((x) => x.sendSeconds).toFixed(2),
      e2eAllAppliedSeconds: +med((x) => x.appliedSeconds).toFixed(2),
      e2ePlantsAppliedPerSecond: Math.round(plantsPerSecond),
      e2eLedgersFirstSendToAllApplied: ledgers,
      e2eLedgersPerRound: e2e.map((x) => x.ledgers),
      e2eAppliedPerRound: e2e.map((x) => x.applied),
      e2eFailures: e2e.reduce((a, x) => a + x.failures, 0),
      e2eGoalWithin2Ledgers: ledgers <= 2 && e2e.every((x) => x.applied === n),
      burstDevnetCpuUsPerSimulate: Math.round(bmed((x) => x.simUs)),
      burstDevnetCpuUsPerSend: Math.round(bmed((x) => x.sendUs)),
      burstSendsPerSecond: Math.round(bmed((x) => x.sendsPerSecond)),
      burstPlantsAppliedPerSecond: Math.round(bmed((x) => x.plantsPerSecond)),
      burstLedgersFirstSendToAllApplied: bmed((x) => x.ledgers),
      burstLedgersPerRound: burst.map((x) => x.ledgers),
      burstAppliedPerRound: burst.map((x) => x.applied),
      burstFailures: burst.reduce((a, x) => a + x.failures, 0),
      burstGoalWithin2Ledgers: bmed((x) => x.ledgers) <= 2 && burst.every((x) => x.applied === n),
      burstEventLoopDelayMaxMs: Math.round(loopMaxMs),
      concurrency: CONCURRENCY,
      baselineGetLatestLedgerPerSecond: Math.round(baselinePerSecond),
      baselineClientCpuUsPerCall: Math.round((base.cpuMs * 1000) / n),
      baselineDevnetCpuUsPerCall: Math.round((baseDevnetMs * 1000) / n),
      ratioE2ePlantsToBaseline: +(plantsPerSecond / baselinePerSecond).toFixed(3),
      ratioBurstSendsToBaseline: +(bmed((x) => x.sendsPerSecond) / baselinePerSecond).toFixed(3),
    })
  } finally {
    if (child && child.exitCode === null) {
      child.send({ type: 'exit' } satisfies ToChild)
      await new Promise((r) => child!.once('exit', r))
    }
    await net.close()
  }
}
