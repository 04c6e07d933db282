// Test helpers: a real StratumServer on port 0 with a real Piscina verifier, a raw
// line client, and local share search at low difficulty.
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { StrKey } from '@stellar/stellar-sdk'
import { loadConfig } from '../../src/config.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { StratumServer, type StratumOptions, type StratumDeps } from '../../src/stratum/server.js'
import { Verifier, type ShareVerifier, type VerifyDone } from '../../src/workers/verifier.js'
import { keccak256, preimage, targetBytes, belowOrEqual } from '../../src/kale/index.js'
import type { BlockEvent, ShareEvent, ShareSink } from '../../src/events.js'

export function options(over: Partial<StratumOptions> = {}): StratumOptions {
  const c = loadConfig({})
  return {
    ...c, stratumHost: '127.0.0.1', stratumPort: 0, stratumTlsPort: undefined,
    difficultyMin: 1, difficultyStart: 1, tickMs: 50, ...over,
  }
}

export class MemorySink implements ShareSink {
  readonly shares: ShareEvent[] = []
  full = false
  add(s: ShareEvent): boolean {
    if (this.full) return false
    this.shares.push(s)
    return true
  }
}

export function verifier(): Verifier {
  return new Verifier({ threads: 1, batchMax: 64, batchMs: 1, queueMax: 16, idleTimeoutMs: 1000 })
}

export async function startServer(over: Partial<StratumOptions> = {}, deps: Partial<StratumDeps> = {}) {
  const sink = new MemorySink()
  const v = deps.verifier ?? verifier()
  const metrics = createMetrics()
  const server = new StratumServer(options(over), { verifier: v, shares: sink, metrics, ...deps })
  const { port, tlsPort } = await server.listen()
  return {
    server, sink, port, tlsPort, metrics,
    async close() {
      await server.close()
      if (v instanceof Verifier) await v.close()
    },
  }
}

export function farmerAddress(): string {
  return StrKey.encodeEd25519PublicKey(randomBytes(32))
}

export function blockEvent(index: number, maxZeros = 8n): BlockEvent {
  return { index, entropy: randomBytes(32), timestamp: Math.floor(Date.now() / 1000), ledger: index * 60, stats: { minGap: 0n, maxGap: 10n, minStake: 0n, maxStake: 0n, minZeros: 0n, maxZeros } }
}

export type Msg = { id?: unknown; method?: string; params?: unknown[]; result?: unknown; error?: { code: number; message: string } | null }

/** A raw line client: writes whatever it is given, queues every parsed line. */
export class Raw {
  readonly lines: Msg[] = []
  readonly raw: string[] = []
  private buf = ''
  private waiters: (() => void)[] = []
  closed = false
  private constructor(readonly sock: net.Socket) {
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      this.buf += d
      let nl: number
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl)
        this.buf = this.buf.slice(nl + 1)
        this.raw.push(line)
        this.lines.push(JSON.parse(line) as Msg)
      }
      this.wake()
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      this.closed = true
      this.wake()
    })
  }
  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
  static connect(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(new Raw(s)))
      s.once('error', reject)
    })
  }
  send(x: unknown): void {
    this.sock.write(typeof x === 'string' ? x : JSON.stringify(x) + '\n')
  }
  /** Waits until `pred` holds over the received lines (bounded). */
  async until(pred: (lines: Msg[]) => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms
    while (!pred(this.lines)) {
      if (Date.now() > deadline) throw new Error(`timeout; got ${JSON.stringify(this.lines.slice(-5))}`)
      await new Promise<void>((r) => {
        this.waiters.push(r)
        setTimeout(r, 50)
      })
    }
  }
  async untilClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket not closed')
      await new Promise<void>((r) => {
        this.waiters.push(r)
        setTimeout(r, 50)
      })
    }
  }
  /** Sends a request and resolves with its response (matched by id). */
  async call(id: unknown, method: string, params: unknown[] = []): Promise<Msg> {
    this.send({ id, method, params })
    await this.until((ls) => ls.some((l) => l.id === id && l.method === undefined))
    return this.lines.find((l) => l.id === id && l.method === undefined)!
  }
  notifications(method: string): Msg[] {
    return this.lines.filter((l) => l.method === method)
  }
  async nextNotify(after = 0): Promise<Msg> {
    await this.until((ls) => ls.filter((l) => l.method === 'mining.notify').length > after)
    return this.notifications('mining.notify')[after]!
  }
  close(): void {
    this.sock.destroy()
  }
}

/** A nonce (16 hex) starting with `e1hex` whose hash meets `difficulty` (or, with `miss`, does not). */
export function findNonce(notify: Msg, e1hex: string, difficulty: number, start = 0, miss = false): string {
  const [, index, entropyHex, keyHex] = notify.params as [string, number, string, string]
  const target = targetBytes(difficulty)
  const pre = preimage(index, 0n, Buffer.from(entropyHex, 'hex'), Buffer.from(keyHex, 'hex'))
  const e2digits = 16 - e1hex.length
  for (let i = start; i < start + 1_000_000; i++) {
    const hex = e1hex + i.toString(16).padStart(e2digits, '0')
    new DataView(pre.buffer).setBigUint64(4, BigInt('0x' + hex), false)
    if (belowOrEqual(keccak256(pre), target) !== miss) return hex
  }
  throw new Error('no nonce found')
}

/** Subscribe + authorize on a raw client; returns e1 hex and sessionId. */
export async function login(c: Raw, user: string, password = ''): Promise<{ e1: string; sessionId: string }> {
  const sub = await c.call('s', 'mining.subscribe', ['test'])
  const [sessionId, e1] = sub.result as [string, string, number]
  const auth = await c.call('a', 'mining.authorize', [user, password])
  if (auth.result !== true) throw new Error(`authorize failed: ${JSON.stringify(auth)}`)
  return { e1, sessionId }
}

export const PAYOUT = StrKey.encodeEd25519PublicKey(Buffer.alloc(32, 7))

/**
 * Opens block 9 with `farmer` planted, then a miner (PAYOUT) logs in with
 * `password`: its connection, extranonce1, sessionId and first job.
 */
export async function minerSession(s: { server: StratumServer; port: number }, farmer: string, password = '') {
  s.server.onBlock(blockEvent(9))
  s.server.onPlanted({ index: 9, farmers: [farmer] })
  const c = await Raw.connect(s.port)
  const { e1, sessionId } = await login(c, PAYOUT, password)
  const n = await c.nextNotify()
  return { c, e1, sessionId, n, jobId: n.params![0] as string }
}

/**
 * Hashes in-thread and keeps the Verifier's contract to the letter: never answers
 * synchronously, and the buffer is good during the callback only (scribbled over
 * right after, as a reused slot would be).
 */
export class StubVerifier implements ShareVerifier {
  busy = false
  /** Answers after this many ms (0: on the next microtask). */
  delayMs = 0
  /** Collects shares for 5 ms and answers them last first: a later batch overtaking an earlier one. */
  reverse = false
  private burst: Array<() => void> = []
  verify(template: Uint8Array, nonceHex: string, done: VerifyDone): boolean {
    if (this.busy) return false
    const pre = Buffer.from(template)
    pre.write(nonceHex, 4, 8, 'hex')
    const h = Buffer.concat([Buffer.alloc(8), keccak256(pre)])
    const answer = (): void => {
      done(h, 8)
      h.fill(0xff)
    }
    if (this.reverse) {
      this.burst.push(answer)
      if (this.burst.length === 1) {
        setTimeout(() => {
          const b = this.burst.reverse()
          this.burst = []
          for (const a of b) a()
        }, 5)
      }
    } else if (this.delayMs > 0) setTimeout(answer, this.delayMs)
    else queueMicrotask(answer)
    return true
  }
}
