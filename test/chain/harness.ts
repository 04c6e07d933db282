// Test wiring: a real devnet on port 0, the chain parts against it through the
// real SDK, logs captured as text so tests can search them.
import { Writable } from 'node:stream'
import { spawn } from 'node:child_process'
import { randomBytes, createDecipheriv } from 'node:crypto'
import { StrKey } from '@stellar/stellar-sdk'
import { startDevnet, type Devnet } from '../../src/devnet/index.js'
import { resolveNetwork, type NetworkInfo } from '../../src/chain/network.js'
import { createChain, type Chain } from '../../src/chain/index.js'
import { activeFarmers } from '../../src/chain/farmers.js'
import { MemoryChainStore, type ChainStore, type ChainOpRecord } from '../../src/chain/store.js'
import { createLogger, type Logger } from '../../src/log.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import type { TxRequest, TxResult } from '../../src/chain/submitter.js'
import type { BlockEvent } from '../../src/events.js'
import type { HarvestedEvent } from '../../src/chain/scheduler.js'

export class LogCapture {
  text = ''
  readonly logger: Logger
  constructor() {
    const sink = new Writable({ write: (chunk, _enc, cb) => { this.text += String(chunk); cb() } })
    this.logger = createLogger('debug', sink)
  }
}

export interface PoolHandle {
  chain: Chain
  blocks: BlockEvent[]
  harvested: HarvestedEvent[]
  /** successful transactions per `${op}/${farmer}` */
  successes: Map<string, number>
}

export function startPool(net: NetworkInfo, store: ChainStore, masterKey: Buffer, log: Logger, extra: { concurrency?: number; timeoutMs?: number; workLeadSeconds?: number } = {}): PoolHandle {
  const chain = createChain({
    net, store, log, metrics: createMetrics(), masterKey, rpcTimeoutMs: extra.timeoutMs ?? 1000, rpcRetriesMax: 4,
    chainConcurrencyMax: extra.concurrency ?? 64, feeInclusionMaxStroops: 10_000, workLeadSeconds: extra.workLeadSeconds ?? 15, farmerXlmMin: 5,
  })
  const h: PoolHandle = { chain, blocks: [], harvested: [], successes: new Map() }
  const submit = chain.submitter.submit.bind(chain.submitter)
  chain.submitter.submit = async (req: TxRequest): Promise<TxResult> => {
    const res = await submit(req)
    if (res.status === 'success') {
      const k = `${req.op}/${req.source.publicKey}`
      h.successes.set(k, (h.successes.get(k) ?? 0) + 1)
    }
    return res
  }
  chain.scheduler.on('block', (b: BlockEvent) => h.blocks.push(b))
  chain.scheduler.on('harvested', (e: HarvestedEvent) => h.harvested.push(e))
  return h
}

/** Puts `fn` in front of the pool's submitter: it sees each request with the real submit, to call or not. */
export function interceptSubmit(pool: PoolHandle, fn: (req: TxRequest, submit: (req: TxRequest) => Promise<TxResult>) => Promise<TxResult>): void {
  const submit = pool.chain.submitter.submit.bind(pool.chain.submitter)
  pool.chain.submitter.submit = (req) => fn(req, submit)
}

/**
 * Starts `p`'s block cycle for the store's active farmers. With `holdHarvests`
 * every harvest fails unsent: the pails stay on chain (a process that ends
 * before harvesting).
 */
export async function farm(p: PoolHandle, store: ChainStore, master: Buffer, holdHarvests: boolean): Promise<PoolHandle> {
  if (holdHarvests) {
    interceptSubmit(p, async (req, submit) =>
      req.op === 'harvest' ? { status: 'failed', reason: 'test: harvests held back', hash: null, feeStroops: 0n } : submit(req))
  }
  p.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
  p.chain.scheduler.start()
  return p
}

/** Block N, the first block `p` saw from its open, once every farmer's work of it is done and a later block is open. */
export async function workedBlock(p: PoolHandle, store: MemoryChainStore, farmers: number): Promise<number> {
  await until(() => p.blocks.length > 1, 120_000)
  const n = p.blocks[1]!.index
  await until(() => opsOf(store, 'work', 'done').filter((o) => o.block === n).length === farmers && p.blocks.some((b) => b.index > n), 120_000, () => rowsJson(store.ops.values()))
  return n
}

/**
 * What a devnet scheduler test sets up: a devnet process, one store and master
 * key that pools started with `start` share (a restart is a second start), their
 * logs captured. `close` stops every pool started and the devnet.
 */
export interface DevnetRig {
  dev: DevnetHandle
  net: NetworkInfo
  cap: LogCapture
  store: MemoryChainStore
  master: Buffer
  pools: PoolHandle[]
  start(extra?: Parameters<typeof startPool>[4]): PoolHandle
  close(): Promise<void>
}

export async function devnetRig(opts: { ledgerMs: number; seed: string }): Promise<DevnetRig> {
  const { dev, net } = await devnet(opts)
  const cap = new LogCapture()
  const store = newStore()
  const master = newMasterKey()
  const pools: PoolHandle[] = []
  return {
    dev, net, cap, store, master, pools,
    start(extra) {
      const p = startPool(net, store, master, cap.logger, extra)
      pools.push(p)
      return p
    },
    async close() {
      for (const p of pools) p.chain.scheduler.stop()
      await dev.close()
    },
  }
}

export interface DevnetHandle {
  info: { rpcUrl: string }
  close(): Promise<void>
}

/**
 * A devnet in its own process (`kale-pool devnet`, compiled to dist/): it gets
 * its own core, as in production, instead of sharing the pool's event loop.
 */
export async function devnet(opts: { ledgerMs: number; faultRate?: number; bots?: number; seed?: string }): Promise<{ dev: DevnetHandle; net: NetworkInfo }> {
  const args = ['dist/cli.js', 'devnet', '--port', '0', '--ledger-ms', String(opts.ledgerMs), '--fault-rate', String(opts.faultRate ?? 0), '--bots', String(opts.bots ?? 0), '--seed', opts.seed ?? 'chain-test']
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => reject(new Error('devnet did not start')), 20_000)
    child.stdout!.on('data', (c: Buffer) => {
      buf += String(c)
      const nl = buf.indexOf('\n')
      if (nl >= 0) {
        clearTimeout(timer)
        resolve(buf.slice(0, nl))
      }
    })
    child.once('exit', (code) => reject(new Error(`devnet exited ${code}`)))
  })
  const info = JSON.parse(line) as { rpcUrl: string }
  const close = async (): Promise<void> => {
    if (child.exitCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))])
    if (child.exitCode === null) child.kill('SIGKILL')
  }
  const net = await resolveNetwork({ kaleNetwork: 'devnet', rpcUrl: info.rpcUrl, timeoutMs: 5000 }).catch(async (e: unknown) => {
    await close()
    throw e
  })
  return { dev: { info, close }, net }
}

/** An in-process devnet (when a test needs its internals). */
export async function localDevnet(opts: { ledgerMs: number; seed?: string }): Promise<{ dev: Devnet; net: NetworkInfo }> {
  const dev = await startDevnet({ port: 0, ledgerMs: opts.ledgerMs, seed: opts.seed ?? 'chain-test' })
  const net = await resolveNetwork({ kaleNetwork: 'devnet', rpcUrl: dev.info.rpcUrl, timeoutMs: 5000 })
  return { dev, net }
}

export const newMasterKey = (): Buffer => randomBytes(32)
export const newStore = (): MemoryChainStore => new MemoryChainStore()

/** Waits until `cond` holds, polling every 20 ms, at most `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, detail?: () => string): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`condition not met within ${ms} ms${detail ? `\n${detail()}` : ''}`)
}

/** The S… strkey of a stored farmer, decrypted here independently of src/chain (for leak searches). */
export function secretStrKey(masterKey: Buffer, publicKey: string, encrypted: string): string {
  const raw = Buffer.from(encrypted.slice(3), 'base64')
  const d = createDecipheriv('aes-256-gcm', masterKey, raw.subarray(0, 12))
  d.setAAD(Buffer.from(publicKey))
  d.setAuthTag(raw.subarray(12, 28))
  return StrKey.encodeEd25519SecretSeed(Buffer.concat([d.update(raw.subarray(28)), d.final()]))
}

export function rowsJson(ops: Iterable<ChainOpRecord>): string {
  return JSON.stringify([...ops], (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
}

export const opsOf = (store: MemoryChainStore, op: string, status?: string): ChainOpRecord[] =>
  [...store.ops.values()].filter((o) => o.op === op && (status === undefined || o.status === status))

/** Devnet KALE balance of each farmer = Σ (reward + stake) harvested − Σ stake planted, from the store. */
export async function balanceMismatches(store: MemoryChainStore, chain: Chain, net: NetworkInfo): Promise<string[]> {
  const { trustlineKey, keyId, decodeTrustlineBalance } = await import('../../src/chain/contract.js')
  const { readEntries } = await import('../../src/chain/rpc.js')
  const pks = [...store.farmers.keys()]
  const keys = pks.map((pk) => trustlineKey(pk, net.asset))
  const { entries } = await readEntries(chain.rpc, keys)
  const out: string[] = []
  for (const [i, pk] of pks.entries()) {
    const mine = [...store.ops.values()].filter((o) => o.farmer === pk)
    let expected = 0n
    for (const o of mine) {
      if (o.op === 'plant' && o.status === 'done') expected -= o.amountStroops
      if (o.op === 'harvest' && o.status === 'done') expected += o.amountStroops + (mine.find((p) => p.op === 'plant' && p.block === o.block)?.amountStroops ?? 0n)
    }
    const e = entries.get(keyId(keys[i]!))
    const actual = e ? decodeTrustlineBalance(e.val) : -1n
    if (actual !== expected) out.push(`${pk}: chain ${actual} != recorded ${expected}`)
  }
  return out
}
