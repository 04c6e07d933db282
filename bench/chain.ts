// `npm run bench -- chain [--farmers 1000] [--ledger-ms 1000] [--blocks 1] [--concurrency N] [--json]`
// Runs the block cycle for N farmers against a devnet in its own process and
// reports, per block: ledgers from the open until all plants applied, how many
// ledgers before the next open the works landed, ledgers after the open until
// all harvests applied, transactions per second and CPU per transaction.
// Baseline in the same run: the SDK's JS signer vs Node's Ed25519 signer.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Keypair } from '@stellar/stellar-sdk'
import { parseArgs, intFlag } from '../src/args.js'
import { loadConfig } from '../src/config.js'
import { resolveNetwork } from '../src/chain/network.js'
import { createChain } from '../src/chain/index.js'
import { ensureFarmers } from '../src/chain/farmers.js'
import { signerFromSeed } from '../src/chain/signer.js'
import { MemoryChainStore } from '../src/chain/store.js'
import { silentLogger } from '../src/log.js'
import type { BlockEvent } from '../src/events.js'
import type { TxRequest, TxResult } from '../src/chain/submitter.js'
import { median, report } from './stats.js'

function signBaseline(): { jsSignaturesPerSecond: number; nodeSignaturesPerSecond: number; ratio: number } {
  const kp = Keypair.random()
  const signer = signerFromSeed(Uint8Array.from(kp.rawSecretKey()))
  const data = randomBytes(32)
  const rate = (fn: () => void): number => {
    const t0 = performance.now()
    let n = 0
    while (performance.now() - t0 < 500) {
      for (let i = 0; i < 50; i++) fn()
      n += 50
    }
    return Math.round((n * 1000) / (performance.now() - t0))
  }
  const js = rate(() => kp.sign(data))
  const node = rate(() => signer.sign(data))
  return { jsSignaturesPerSecond: js, nodeSignaturesPerSecond: node, ratio: Math.round((node / js) * 10) / 10 }
}

async function startChildDevnet(ledgerMs: number): Promise<{ rpcUrl: string; stop(): void }> {
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url))
  const child = spawn(process.execPath, [cli, 'devnet', '--port', '0', '--ledger-ms', String(ledgerMs), '--seed', 'bench'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let buf = ''
    child.stdout!.on('data', (c: Buffer) => {
      buf += String(c)
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')))
    })
    child.once('exit', (code) => reject(new Error(`devnet exited ${code}`)))
  })
  return { rpcUrl: (JSON.parse(line) as { rpcUrl: string }).rpcUrl, stop: () => void child.kill('SIGTERM') }
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv, ['farmers', 'ledger-ms', 'blocks', 'concurrency'], ['json'])
  const farmers = intFlag(args, 'farmers', 1, 100_000, 1000)
  const ledgerMs = intFlag(args, 'ledger-ms', 50, 60_000, 1000)
  const blocks = intFlag(args, 'blocks', 1, 100, 1)
  // The pool's own default (CHAIN_CONCURRENCY_MAX), so the bench measures what an operator runs.
  const concurrency = intFlag(args, 'concurrency', 1, 10_000, loadConfig({}).chainConcurrencyMax)
  const baseline = signBaseline()
  const dev = await startChildDevnet(ledgerMs)
  try {
    const net = await resolveNetwork({ kaleNetwork: 'devnet', rpcUrl: dev.rpcUrl, timeoutMs: 10_000 })
    const store = new MemoryChainStore()
    const chain = createChain({
      net, store, log: silentLogger(), masterKey: randomBytes(32), rpcTimeoutMs: 10_000, rpcRetriesMax: 4,
      chainConcurrencyMax: concurrency, feeInclusionMaxStroops: 10_000, workLeadSeconds: 15, farmerXlmMin: 5,
    })
    const setup0 = performance.now()
    const active = await ensureFarmers(chain.accounts, farmers)
    const setupSeconds = (performance.now() - setup0) / 1000
    const landed: Array<{ op: string; ledger: number }> = []
    const submit = chain.submitter.submit.bind(chain.submitter)
    chain.submitter.submit = async (req: TxRequest): Promise<TxResult> => {
      const res = await submit(req)
      if (res.status === 'success') landed.push({ op: req.op, ledger: res.ledger })
      return res
    }
    const seen: BlockEvent[] = []
    chain.scheduler.on('block', (b: BlockEvent) => seen.push(b))
    chain.scheduler.setFarmers(active)
    // measure from the first block the pool plants in full until `blocks` more blocks opened and harvests settle
    chain.scheduler.start()
    const deadline = Date.now() + (blocks + 2) * 70 * ledgerMs + 120_000
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    const cpu0 = process.cpuUsage()
    const wall0 = performance.now()
    const firstLanded = landed.length
    const target = seen.length
    while (seen.length < target + blocks && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    await new Promise((r) => setTimeout(r, 10 * ledgerMs))
    const cpu = process.cpuUsage(cpu0)
    const wall = (performance.now() - wall0) / 1000
    await chain.scheduler.shutdown()
    const txs = landed.length - firstLanded
    const perBlock = []
    for (const b of seen.slice(target - 1, target - 1 + blocks)) {
      const next = seen.find((x) => x.index === b.index + 1)
      const ops = await store.opsOfBlock(b.index)
      const count = (op: string) => ops.filter((o) => o.op === op && o.status === 'done').length
      const opsLedgers = (op: string, lo: number, hi: number) => landed.filter((l) => l.op === op && l.ledger >= lo && l.ledger <= hi).map((l) => l.ledger)
      const plants = opsLedgers('plant', b.ledger - 2, b.ledger + 40)
      const works = next ? opsLedgers('work', b.ledger, next.ledger) : []
      const harvests = next ? opsLedgers('harvest', next.ledger, next.ledger + 60) : []
      perBlock.push({
        index: b.index,
        planted: count('plant'), worked: count('work'), harvested: count('harvest'),
        plantLedgersAfterOpen: plants.length ? Math.max(...plants) - b.ledger : null,
        workLedgersBeforeNextOpen: works.length && next ? { earliest: next.ledger - Math.min(...works), median: next.ledger - median(works), latest: next.ledger - Math.max(...works) } : null,
        harvestLedgersAfterNextOpen: harvests.length && next ? Math.max(...harvests) - next.ledger : null,
        blockLedgers: next ? next.ledger - b.ledger : null,
      })
    }
    report(argv, 'chain', {
      farmers, ledgerMs, concurrency, setupSeconds: Math.round(setupSeconds),
      blocks: perBlock,
      transactions: txs,
      txPerSecond: Math.round((txs / wall) * 10) / 10,
      cpuMsPerTx: txs ? Math.round(((cpu.user + cpu.system) / 1000 / txs) * 100) / 100 : null,
      transactionsSent: chain.submitter.sent,
      baselineSigning: baseline,
    })
  } finally {
    dev.stop()
  }
}
