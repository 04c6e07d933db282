// Regression (review finding 2): behind an RPC older than v25 (getLatestLedger
// without closeTime, no getLedgers) the watcher's view had closeTime NaN, so
// isWorkDue/mayOpenNext were always false: plants went out, works never did.
// Here a proxy strips closeTime from the devnet's getLatestLedger answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { LedgerClock } from '../../src/chain/clock.js'
import { RpcClient } from '../../src/chain/rpc.js'
import { BlockWatcher } from '../../src/chain/watcher.js'
import type { Devnet } from '../../src/devnet/index.js'
import type { NetworkInfo } from '../../src/chain/network.js'
import { LogCapture, localDevnet } from './harness.js'

/** Forwards JSON-RPC to the devnet; getLatestLedger answers lose closeTime, getLedgers is unknown (as before v25). */
function oldRpcProxy(target: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const method = (JSON.parse(body.toString()) as { method: string }).method
      const up = request(target, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (r) => {
        const out: Buffer[] = []
        r.on('data', (c: Buffer) => out.push(c))
        r.on('end', () => {
          const answer = JSON.parse(Buffer.concat(out).toString()) as { result?: Record<string, unknown> }
          if (method === 'getLatestLedger' && answer.result) delete answer.result.closeTime
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify(answer))
        })
      })
      up.end(body)
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server })))
}

describe('block watcher behind an RPC without getLatestLedger.closeTime', () => {
  let dev: Devnet
  let net: NetworkInfo
  let proxy: { url: string; server: Server }

  beforeAll(async () => {
    ;({ dev, net } = await localDevnet({ ledgerMs: 100, seed: 'old-rpc' }))
    proxy = await oldRpcProxy(net.rpcUrl)
  })
  afterAll(async () => {
    proxy?.server.closeAllConnections()
    await new Promise((r) => proxy?.server.close(r))
    await dev?.close()
  })

  it('still sees a finite close time: the devnet ledger time', async () => {
    const clock = new LedgerClock()
    const w = new BlockWatcher({ rpc: new RpcClient(proxy.url, { timeoutMs: 2000, retriesMax: 1 }), net, clock, log: new LogCapture().logger, pollMs: 50, onBlock: () => undefined })
    const view = await w.poll()
    expect(view).toBeDefined()
    expect(Number.isFinite(view!.closeTime)).toBe(true)
    const truth = dev.chain.latestLedger() as { sequence: number; closeTime: string }
    expect(view!.closeTime).toBeGreaterThan(0)
    expect(Math.abs(view!.closeTime - Number(truth.closeTime))).toBeLessThanOrEqual(10)
    expect(clock.closeTime).toBe(view!.closeTime)
  })
})
