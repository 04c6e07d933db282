// A tiny scripted pool on real TCP (port 0) for what a real StratumServer never
// does: malformed lines, dropped or silent connections, refusals. Each accepted
// connection is a FakeConn; the script answers its requests.
import net from 'node:net'

export interface Req {
  id: number
  method: string
  params: unknown[]
}

export class FakeConn {
  readonly requests: Req[] = []
  closed = false
  private buf = ''

  constructor(readonly sock: net.Socket, readonly n: number, onRequest: (c: FakeConn, r: Req) => void) {
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      this.buf += d
      let nl: number
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl)
        this.buf = this.buf.slice(nl + 1)
        let r: Req
        try {
          r = JSON.parse(line) as Req
        } catch {
          continue // e.g. a TLS ClientHello sent to this plain-TCP pool
        }
        this.requests.push(r)
        if (!sock.destroyed) onRequest(this, r)
      }
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      this.closed = true
    })
  }

  /** Writes a raw line (a string, sent as is plus "\n") or a message (JSON). */
  send(x: string | object): void {
    if (!this.sock.destroyed) this.sock.write((typeof x === 'string' ? x : JSON.stringify(x)) + '\n')
  }

  result(id: number, result: unknown): void {
    this.send({ jsonrpc: '2.0', id, result })
  }

  error(id: number, code: number, message: string): void {
    this.send({ jsonrpc: '2.0', id, error: { code, message } })
  }

  notify(method: string, params: unknown[]): void {
    this.send({ jsonrpc: '2.0', method, params })
  }

  submits(): Req[] {
    return this.requests.filter((r) => r.method === 'mining.submit')
  }

  destroy(): void {
    this.sock.destroy()
  }

  /** Closes after what was written is flushed. */
  end(): void {
    this.sock.end()
  }
}

export class FakePool {
  readonly conns: FakeConn[] = []
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(onRequest: (c: FakeConn, r: Req) => void, onConnect?: (c: FakeConn) => void): Promise<FakePool> {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const pool = new FakePool(server, (server.address() as net.AddressInfo).port)
    server.on('connection', (sock) => {
      const c = new FakeConn(sock, pool.conns.length + 1, onRequest)
      pool.conns.push(c)
      onConnect?.(c)
    })
    return pool
  }

  get url(): string {
    return `stratum+tcp://127.0.0.1:${this.port}`
  }

  open(): FakeConn[] {
    return this.conns.filter((c) => !c.closed)
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

export const ENTROPY = 'ab'.repeat(32)
export const FARMER_KEY = '5a'.repeat(32)

/** A valid notify's params for block `index`. */
export function notifyParams(jobId: string, index = 7, clean = true): unknown[] {
  return [jobId, index, ENTROPY, FARMER_KEY, 'GFARMER', clean]
}

/**
 * Answers the login requests like a pool (extranonce1 `e1`, 3 bytes) and every
 * submit with true; returns false for anything else. `afterLogin` runs once
 * authorize is answered.
 */
export function login(c: FakeConn, r: Req, afterLogin: (c: FakeConn) => void = () => {}, e1 = 'aabbcc'): boolean {
  switch (r.method) {
    case 'mining.subscribe':
      c.result(r.id, [`session-${c.n}`, e1, 8 - e1.length / 2])
      return true
    case 'mining.extranonce.subscribe':
      c.result(r.id, true)
      return true
    case 'mining.authorize':
      c.result(r.id, true)
      afterLogin(c)
      return true
    case 'mining.submit':
      c.result(r.id, true)
      return true
  }
  return false
}

/** Difficulty 4096 and one job: a thread finds shares within milliseconds. */
export function work(c: FakeConn, jobId = 'j1'): void {
  c.notify('mining.set_difficulty', [4096])
  c.notify('mining.notify', notifyParams(jobId))
}

export async function waitFor(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) throw new Error('timeout')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as net.AddressInfo
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}
