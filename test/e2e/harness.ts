// Processes for the end-to-end tests: the pool (`node dist/cli.js start`) and
// reference miners (`node dist/cli.js mine`) as real child processes, talking
// over real TCP to each other and to the pool's in-process devnet.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { Keypair, rpc, TransactionBuilder, Operation, Asset, BASE_FEE } from '@stellar/stellar-sdk'
import { trustlineKey, decodeTrustlineBalance } from '../../src/chain/contract.js'

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname)
export const CLI = path.join(ROOT, 'dist', 'cli.js')
const STARTUP_MS_MAX = 60_000

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address() as net.AddressInfo
      srv.close(() => resolve(a.port))
    })
  })
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `fn` until it returns a truthy value or `ms` passes (then throws `what`). */
export async function waitFor<T>(what: string, ms: number, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, everyMs = 200): Promise<T> {
  const until = Date.now() + ms
  let lastErr: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (err) {
      lastErr = err
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`)
    await sleep(everyMs)
  }
}

/**
 * A fresh database on the local PostgreSQL server (DATABASE_URL's server when set),
 * or undefined when no server answers (the pool then uses its embedded database).
 */
export async function freshDatabase(tag: string): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const admin = postgres(base, { max: 1, connect_timeout: 3, onnotice: () => {} })
  try {
    await admin`SELECT 1`
  } catch {
    await admin.end({ timeout: 1 }).catch(() => {})
    console.warn(`e2e: no PostgreSQL server at ${base.replace(/\/\/[^@]*@/, '//')}; the pool uses its embedded database`)
    return undefined
  }
  const name = `kale_e2e_${tag}_${process.pid}_${Date.now().toString(36)}`
  await admin.unsafe(`CREATE DATABASE ${name}`)
  const u = new URL(base)
  u.pathname = `/${name}`
  return {
    url: u.toString(),
    async drop() {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
      await admin.end({ timeout: 2 })
    },
  }
}

export interface PoolEndpoints {
  stratumPort: number
  httpUrl: string
  rpcUrl: string
}

/** `kale-pool start` as a child process; stdout (pino JSON) and stderr are kept. */
export class PoolProcess {
  readonly stdout: string[] = []
  readonly stderr: string[] = []
  readonly exited: Promise<number | null>
  endpoints: PoolEndpoints | undefined

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    lines(child.stdout!, (l) => this.stdout.push(l))
    lines(child.stderr!, (l) => this.stderr.push(l))
  }

  static spawn(env: Record<string, string>): PoolProcess {
    const child = spawn(process.execPath, [CLI, 'start'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const p = new PoolProcess(child)
    // Keep a copy of everything the pool says next to its data, for post-mortems.
    if (env.DATA_DIR) {
      const log = fs.createWriteStream(path.join(env.DATA_DIR, 'pool.log'), { flags: 'a' })
      child.stdout!.pipe(log)
      child.stderr!.pipe(log)
    }
    return p
  }

  /** Starts the pool and waits for its "kale-pool is running" summary. */
  static async start(env: Record<string, string>): Promise<PoolProcess> {
    const p = PoolProcess.spawn(env)
    await p.ready()
    return p
  }

  async ready(): Promise<PoolEndpoints> {
    const exit = this.exited.then((code) => {
      throw new Error(`pool exited with ${code} before it was ready:\n${this.stderr.join('\n')}\n${this.stdout.slice(-20).join('\n')}`)
    })
    const up = waitFor('pool summary', STARTUP_MS_MAX, () => {
      const text = this.stderr.join('\n')
      const stratum = /stratum\s+stratum\+tcp:\/\/[^:]+:(\d+)/.exec(text)
      const http = /http\s+(http:\/\/\S+)/.exec(text)
      const rpcUrl = /rpc\s+(http:\/\/\S+)/.exec(text)
      if (!stratum || !http || !rpcUrl) return undefined
      return { stratumPort: Number(stratum[1]), httpUrl: http[1]!, rpcUrl: rpcUrl[1]! }
    }, 100)
    this.endpoints = await Promise.race([up, exit])
    return this.endpoints
  }

  /** Parsed pino lines whose msg matches. */
  logs(msg?: RegExp): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = []
    for (const l of this.stdout) {
      try {
        const o = JSON.parse(l) as Record<string, unknown>
        if (!msg || msg.test(String(o.msg))) out.push(o)
      } catch {
        // not JSON
      }
    }
    return out
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', ms = 30_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode
    this.child.kill(signal)
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms)
    const code = await this.exited
    clearTimeout(timer)
    return code
  }
}

/** `kale-pool mine` as a child process. */
export class MinerProcess {
  readonly out: string[] = []
  readonly exited: Promise<number | null>

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    lines(child.stdout!, (l) => this.out.push(l))
    lines(child.stderr!, (l) => this.out.push(l))
  }

  static spawn(stratumPort: number, user: string, extra: string[] = []): MinerProcess {
    const child = spawn(process.execPath, [CLI, 'mine', '--url', `stratum+tcp://127.0.0.1:${stratumPort}`, '--user', user, '--threads', '1', '--report-seconds', '1', ...extra], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'],
    })
    return new MinerProcess(child)
  }

  /** The last accepted count the miner reported. */
  get accepted(): number {
    let n = 0
    for (const l of this.out) {
      const m = /accepted (\d+)/.exec(l)
      if (m) n = Number(m[1])
    }
    return n
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    await this.exited
    clearTimeout(timer)
  }
}

function lines(stream: NodeJS.ReadableStream, onLine: (l: string) => void): void {
  let buf = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    buf += chunk
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i))
      buf = buf.slice(i + 1)
    }
  })
}

export async function getJson<T = any>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T }
}

export async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  return res.text()
}

/** A metric's value from Prometheus text (sum over label sets that match `labels`). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (!m || m[1] !== name) continue
    const ls = m[2] ?? ''
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3])
  }
  return sum
}

/** Devnet helpers through the real SDK: payout accounts for the miners. */
export class DevnetClient {
  readonly server: rpc.Server
  constructor(readonly rpcUrl: string, readonly info: { networkPassphrase: string; asset: string; friendbotUrl: string }) {
    this.server = new rpc.Server(rpcUrl, { allowHttp: true })
    this.server.httpClient.defaults.timeout = 10_000
  }

  static async connect(rpcUrl: string): Promise<DevnetClient> {
    const { body } = await getJson<{ networkPassphrase: string; asset: string; friendbotUrl: string }>(new URL('/devnet', rpcUrl).toString())
    return new DevnetClient(rpcUrl, body)
  }

  get asset(): Asset {
    const [code, issuer] = this.info.asset.split(':')
    return new Asset(code!, issuer!)
  }

  /** A funded account with a KALE trustline (a miner's payout address). */
  async payoutAccount(): Promise<Keypair> {
    const kp = Keypair.random()
    const res = await fetch(`${this.info.friendbotUrl}?addr=${kp.publicKey()}`, { signal: AbortSignal.timeout(10_000) })
    if (!res.ok) throw new Error(`friendbot: HTTP ${res.status}`)
    await waitFor('account exists', 20_000, async () => (await this.server.getAccount(kp.publicKey()).catch(() => undefined)) !== undefined)
    const account = await this.server.getAccount(kp.publicKey())
    const tx = new TransactionBuilder(account, { fee: BASE_FEE, networkPassphrase: this.info.networkPassphrase })
      .addOperation(Operation.changeTrust({ asset: this.asset }))
      .setTimeout(60)
      .build()
    tx.sign(kp)
    const sent = await this.server.sendTransaction(tx)
    if (sent.status !== 'PENDING') throw new Error(`changeTrust: ${sent.status}`)
    const done = await this.server.pollTransaction(sent.hash, { attempts: 100, sleepStrategy: () => 100 })
    if (done.status !== 'SUCCESS') throw new Error(`changeTrust: ${done.status}`)
    return kp
  }

  /** KALE balance (stroops) of a G-address's trustline; 0n when it has none. */
  async kaleBalance(address: string): Promise<bigint> {
    const res = await this.server.getLedgerEntries(trustlineKey(address, this.info.asset))
    const entry = res.entries[0]
    return entry ? decodeTrustlineBalance(entry.val) : 0n
  }
}

