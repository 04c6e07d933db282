// The devnet's HTTP face: Soroban JSON-RPC at POST /, friendbot at
// /friendbot?addr=G…, the DevnetInfo JSON at GET /devnet. node:http only.
import http from 'node:http'
import { StrKey } from '@stellar/stellar-sdk'
import type { Chain } from './chain.js'
import { Faults, HANG_MS_MAX } from './faults.js'
import { PROTOCOL_VERSION } from './chain.js'

export const BODY_BYTES_MAX = 1 << 20

export interface ServerDeps {
  chain: Chain
  faults: Faults
  info: () => Record<string, unknown>
  friendbotUrl: () => string
}

type RpcError = { code: number; message: string }
const invalidParams = (message: string): RpcError => ({ code: -32602, message })

export class RpcServer {
  readonly server: http.Server
  private readonly hung = new Set<http.ServerResponse>()
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(private readonly deps: ServerDeps) {
    this.server = http.createServer((req, res) => this.handle(req, res))
    this.server.keepAliveTimeout = 5_000
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve((this.server.address() as { port: number }).port)
      })
    })
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const res of this.hung) if (!res.writableEnded) res.destroy()
    this.hung.clear()
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    // JSON-RPC posts to "/" skip the URL parser (~1 % of the devnet's profile)
    if (req.url !== '/') {
      const url = new URL(req.url ?? '/', 'http://devnet')
      if (url.pathname === '/devnet' && req.method === 'GET') return send(res, 200, this.deps.info())
      if (url.pathname === '/friendbot') return void this.friendbot(url, res)
      if (url.pathname !== '/') return send(res, 404, { error: 'not found' })
    }
    if (req.method !== 'POST') return send(res, 404, { error: 'not found' })
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > BODY_BYTES_MAX) {
        send(res, 413, { error: 'body too large' })
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => {
      if (size > BODY_BYTES_MAX) return
      this.rpc(Buffer.concat(chunks).toString('utf8'), res)
    })
  }

  private async friendbot(url: URL, res: http.ServerResponse): Promise<void> {
    const addr = url.searchParams.get('addr') ?? ''
    if (!StrKey.isValidEd25519PublicKey(addr)) return send(res, 400, { status: 400, detail: 'addr must be a valid G… account id' })
    const r = await this.deps.chain.friendbot(addr)
    send(res, r.status, r.body)
  }

  private rpc(body: string, res: http.ServerResponse): void {
    let msg: { id?: unknown; method?: unknown; params?: unknown }
    try {
      msg = JSON.parse(body) as typeof msg
    } catch {
      return send(res, 200, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } })
    }
    const id = msg?.id ?? null
    const method = typeof msg?.method === 'string' ? msg.method : ''
    const fault = this.deps.faults.decide(method)
    if (fault === 'http503') return send(res, 503, { error: 'service unavailable (injected fault)' })
    if (fault === 'hang') return this.hang(res)
    try {
      const result = this.dispatch(method, (msg.params ?? {}) as Record<string, unknown>, fault)
      send(res, 200, { jsonrpc: '2.0', id, result })
    } catch (err) {
      const e = isRpcError(err) ? err : { code: -32603, message: err instanceof Error ? err.message : String(err) }
      send(res, 200, { jsonrpc: '2.0', id, error: e })
    }
  }

  private hang(res: http.ServerResponse): void {
    this.hung.add(res)
    const t = setTimeout(() => {
      this.timers.delete(t)
      this.hung.delete(res)
      send(res, 503, { error: 'hung request ended (injected fault)' })
    }, HANG_MS_MAX)
    this.timers.add(t)
    res.on('close', () => {
      clearTimeout(t)
      this.timers.delete(t)
      this.hung.delete(res)
    })
  }

  private dispatch(method: string, params: Record<string, unknown>, fault: string | null): unknown {
    const chain = this.deps.chain
    const st = chain.state
    switch (method) {
      case 'getHealth':
        return { status: 'healthy', latestLedger: st.sequence, oldestLedger: chain.oldestLedger, ledgerRetentionWindow: 17_280 }
      case 'getNetwork':
        return { passphrase: chain.ctx.ids.passphrase, protocolVersion: PROTOCOL_VERSION, friendbotUrl: this.deps.friendbotUrl() }
      case 'getLatestLedger':
        return chain.latestLedger()
      case 'getVersionInfo':
        return { version: 'kale-pool-devnet', commitHash: '', buildTimestamp: '', captiveCoreVersion: '', protocolVersion: PROTOCOL_VERSION }
      case 'getFeeStats': {
        const dist = { max: '100', min: '100', mode: '100', p10: '100', p20: '100', p30: '100', p40: '100', p50: '100', p60: '100', p70: '100', p80: '100', p90: '100', p95: '100', p99: '100', transactionCount: '0', ledgerCount: 50 }
        return { sorobanInclusionFee: dist, inclusionFee: dist, latestLedger: st.sequence }
      }
      case 'getEvents':
        return { events: [], latestLedger: st.sequence, oldestLedger: chain.oldestLedger, cursor: '' }
      case 'getLedgerEntries': {
        const keys = params.keys
        if (!Array.isArray(keys) || keys.length > 200 || !keys.every((k) => typeof k === 'string')) throw invalidParams('keys must be an array of ≤ 200 base64 LedgerKeys')
        return guard(() => chain.ledgerEntries(keys as string[]))
      }
      case 'simulateTransaction': {
        const tx = params.transaction
        if (typeof tx !== 'string') throw invalidParams('transaction must be a base64 envelope')
        return guard(() => chain.simulate(tx, params.useUpgradedAuth !== false))
      }
      case 'sendTransaction': {
        const tx = params.transaction
        if (typeof tx !== 'string') throw invalidParams('transaction must be a base64 envelope')
        const base = { latestLedger: st.sequence, latestLedgerCloseTime: String(st.closeTime) }
        if (fault === 'tryAgainLater') {
          const hash = guard(() => chain.hashOf(tx))
          return { status: 'TRY_AGAIN_LATER', hash, ...base }
        }
        return { ...guard(() => chain.send(tx, fault === 'dropAfterPending')), ...base }
      }
      case 'getTransaction': {
        const hash = params.hash
        if (typeof hash !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hash)) throw invalidParams('hash must be 64 hex characters')
        return chain.getTransaction(hash)
      }
      default:
        throw { code: -32601, message: `method not found: ${method}` } satisfies RpcError
    }
  }
}

/** Decoding failures of client input are invalid params, not internal errors. */
function guard<T>(f: () => T): T {
  try {
    return f()
  } catch (err) {
    if (isRpcError(err)) throw err
    const m = err instanceof Error ? err.message : String(err)
    if (/xdr|XDR|invalid|Invalid|decode|base64|length|range|bounds|unknown|Unknown|expected|Expected/i.test(m) || err instanceof TypeError || err instanceof RangeError) {
      throw invalidParams(`invalid XDR: ${m.slice(0, 200)}`)
    }
    throw err
  }
}

function isRpcError(e: unknown): e is RpcError {
  return typeof e === 'object' && e !== null && typeof (e as RpcError).code === 'number' && typeof (e as RpcError).message === 'string'
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
