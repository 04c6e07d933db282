// A JSON-RPC proxy in front of the devnet for tests of bad or lagging RPC nodes:
// every answer passes through `rewrite`, which may change its result in place.
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RpcProxy {
  url: string
  close(): Promise<void>
}

/** `rewrite(method, params, result)`: called with each answer's parsed result; mutate it to lie. */
export function rpcProxy(target: string, rewrite: (method: string, params: Record<string, unknown>, result: Record<string, unknown>) => void): Promise<RpcProxy> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const { method, params } = JSON.parse(body.toString()) as { method: string; params?: Record<string, unknown> }
      const up = request(target, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (r) => {
        const out: Buffer[] = []
        r.on('data', (c: Buffer) => out.push(c))
        r.on('end', () => {
          const text = Buffer.concat(out).toString()
          let answer: { result?: Record<string, unknown> }
          try {
            answer = JSON.parse(text) as typeof answer
          } catch {
            res.writeHead(r.statusCode ?? 502).end(text)
            return
          }
          if (answer.result && typeof answer.result === 'object') rewrite(method, params ?? {}, answer.result)
          res.writeHead(r.statusCode ?? 200, { 'content-type': 'application/json' })
          res.end(JSON.stringify(answer))
        })
      })
      up.on('error', () => res.writeHead(502).end())
      up.end(body)
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  })))
}
