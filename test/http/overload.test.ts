// The HTTP server under load, over real sockets on port 0: a pipelined flood on
// one connection, many connections at once, calls that outlive their answer,
// and clients that never read. Every view call is bounded; what is refused is
// answered 503 with Retry-After, never queued without bound.
// Review of the HTTP limits, issue 1: public API load holding every
// HTTP_VIEWS_IN_FLIGHT_MAX slot made /health answer 503 BUSY on a healthy pool.
// Issue 2: after a pipeline overflow (503 + close), the connection's later
// requests still ran their view calls. Issue 3: a client reading a large answer
// slowly but steadily was cut as if it never read.
import { describe, it, expect, afterEach } from 'vitest'
import net from 'node:net'
import http from 'node:http'
import { once } from 'node:events'
import { startHttpServer, type HttpServer, type HttpServerOptions } from '../../src/http/server.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { silentLogger } from '../../src/log.js'
import { MemoryView, MINER } from './memory-view.js'

let view: MemoryView
let server: HttpServer | undefined
const sockets: net.Socket[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await view?.settled()
  await server?.close()
  server = undefined
})

async function start(o: Partial<HttpServerOptions> = {}): Promise<HttpServer> {
  view = new MemoryView()
  server = await startHttpServer({ host: '127.0.0.1', port: 0, view, metrics: createMetrics(), logger: silentLogger(), ...o })
  return server
}

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** One GET on a connection of its own (no agent: no shared keep-alive sockets). */
function getAlone(s: HttpServer, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: s.port, path, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
  })
}

/** Status codes in order; an answer's body runs straight into the next status line. */
const statuses = (out: string): number[] => [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))

/**
 * Writes `requests` on one connection at once (pipelined) and collects what
 * comes back until the server closes the connection, `answers` answers have
 * begun, or `ms` pass.
 */
function pipeline(s: HttpServer, requests: string, ms: number, answers = Infinity): Promise<{ out: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(s.port, '127.0.0.1')
    sockets.push(sock)
    let out = ''
    let closedByUs = false
    const stop = (): void => {
      closedByUs = true
      sock.destroy()
    }
    const timer = setTimeout(stop, ms)
    sock.on('data', (d) => {
      out += d.toString('latin1')
      if (statuses(out).length >= answers) stop()
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      clearTimeout(timer)
      resolve({ out, closedByServer: !closedByUs })
    })
    sock.write(requests)
  })
}

const repeat = (request: string, n: number): string => request.repeat(n)
const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`

describe('view calls are bounded', () => {
  it('a pipelined flood of GET /health on one connection costs one view call; past the pipeline bound the connection gets 503 and is closed', async () => {
    const s = await start({ pipelineDepthMax: 8 })
    view.delayMs = 100
    // ~170 KB of requests in one write: the old server started a view call for every one.
    const { out, closedByServer } = await pipeline(s, repeat(GET('/health'), 5000), 5000)
    expect(view.calls.filter((c) => c === 'health')).toHaveLength(1)
    expect(view.inFlightPeak).toBe(1)
    const got = statuses(out)
    expect(got.slice(0, 8)).toEqual(Array(8).fill(200))
    expect(got[8]).toBe(503)
    expect(got.length).toBeLessThan(5000)
    expect(out).toMatch(/\r\nretry-after: 1\r\n/i)
    expect(out).toMatch(/\r\nconnection: close\r\n/i)
    expect(out).toContain('"error":"busy: more than 8 requests pipelined on one connection')
    expect(closedByServer).toBe(true)
  })

  it('pipelined requests of one connection run one at a time, in order', async () => {
    const s = await start({ pipelineDepthMax: 8 })
    view.delayMs = 30
    const requests = [1, 2, 3, 4, 5, 6].map((n) => GET(`/api/blocks?limit=${n}`)).join('')
    const { out } = await pipeline(s, requests, 5000, 6)
    expect(statuses(out)).toEqual([200, 200, 200, 200, 200, 200])
    expect(view.inFlightPeak).toBe(1)
    expect(view.calls).toEqual([1, 2, 3, 4, 5, 6].map((n) => `blocks ${n} undefined`))
  })

  it('many connections at once: GET /health shares one computation (and its result for a moment after)', async () => {
    // A long cache here, so a slow machine cannot outlive it between requests.
    const s = await start({ viewsInFlightMax: 4, viewCacheMs: 60_000 })
    view.delayMs = 200
    const answers = await Promise.all(Array.from({ length: 50 }, () => getAlone(s, '/health')))
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200))
    expect(view.calls).toEqual(['health'])
    expect(JSON.parse(answers[49]!.body).status).toBe('ok')
    // Served from the short cache: no new call.
    expect((await getAlone(s, '/health')).status).toBe(200)
    expect((await getAlone(s, '/api/pool')).status).toBe(200)
    expect((await getAlone(s, '/api/pool')).status).toBe(200)
    expect(view.calls).toEqual(['health', 'pool'])
  })

  it('the shared result is reused only for the cache time; a failure is not kept', async () => {
    const s = await start({ viewCacheMs: 100 })
    expect((await getAlone(s, '/api/pool')).status).toBe(200)
    await new Promise((r) => setTimeout(r, 300))
    view.throwOn = 'pool'
    expect((await getAlone(s, '/api/pool')).status).toBe(500)
    view.throwOn = null
    expect((await getAlone(s, '/api/pool')).status).toBe(200)
    expect(view.calls).toEqual(['pool', 'pool', 'pool'])
  })

  it('many connections at once: view calls past HTTP_VIEWS_IN_FLIGHT_MAX answer 503 with Retry-After, never queue', async () => {
    const s = await start({ viewsInFlightMax: 4 })
    view.delayMs = 1000
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => getAlone(s, `/api/blocks?limit=${i + 1}`)))
    const ok = answers.filter((a) => a.status === 200)
    const busy = answers.filter((a) => a.status === 503)
    expect(ok).toHaveLength(4)
    expect(busy).toHaveLength(16)
    for (const a of busy) {
      expect(a.headers['retry-after']).toBe('1')
      expect(JSON.parse(a.body)).toEqual({ error: 'busy: 4 API requests are being answered (HTTP_VIEWS_IN_FLIGHT_MAX); retry shortly', code: 'BUSY' })
    }
    expect(view.calls).toHaveLength(4)
    expect(view.inFlightPeak).toBe(4)
  })

  it('issue 1: /health, /api/pool and the status page answer 200 while slow public calls hold every HTTP_VIEWS_IN_FLIGHT_MAX slot', async () => {
    const s = await start({ viewsInFlightMax: 2, viewCacheMs: 0 })
    view.delayMs = 3000
    const slow = [getAlone(s, '/api/blocks?limit=1'), getAlone(s, `/api/miners/${MINER}`)]
    await until(() => view.inFlight === 2)
    view.delayMs = 0
    const health = await getAlone(s, '/health')
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body).status).toBe('ok')
    expect((await getAlone(s, '/api/pool')).status).toBe(200)
    expect((await getAlone(s, '/')).status).toBe(200)
    // The cap was full all along: another public call is still refused.
    const busy = await getAlone(s, '/api/farmers')
    expect(busy.status).toBe(503)
    expect(JSON.parse(busy.body).code).toBe('BUSY')
    expect((await Promise.all(slow)).map((a) => a.status)).toEqual([200, 200])
  })

  it('a view call whose answer timed out keeps its slot until it really ends', async () => {
    const s = await start({ viewsInFlightMax: 2, viewTimeoutMs: 150 })
    view.delayMs = 1500
    const timedOut = await Promise.all([getAlone(s, '/api/blocks?limit=1'), getAlone(s, `/api/miners/${MINER}`)])
    expect(timedOut.map((a) => a.status)).toEqual([503, 503])
    expect(JSON.parse(timedOut[0]!.body).error).toMatch(/timed out after 150 ms/)
    expect(timedOut[0]!.headers['retry-after']).toBe('1')
    // Both calls still run (the old server only raced them): no third one starts.
    const third = await getAlone(s, '/api/farmers')
    expect(third.status).toBe(503)
    expect(JSON.parse(third.body).code).toBe('BUSY')
    expect(view.calls).toHaveLength(2)
    await view.settled()
    view.delayMs = 0
    expect((await getAlone(s, '/api/farmers')).status).toBe(200)
  })
})

describe('pipelined requests after an overflow or a close', () => {
  it('issue 2: after the 503 of a pipeline overflow, the connection\'s later requests are refused without running their view calls', async () => {
    const s = await start({ pipelineDepthMax: 2 })
    view.delayMs = 300
    const { sock, out } = connectRaw(s)
    const closed = once(sock, 'close')
    // Two run, the third overflows: 503 and the connection closes after the answers before it.
    sock.write([1, 2, 3].map((n) => GET(`/api/blocks?limit=${n}`)).join(''))
    await until(() => statuses(out()).length >= 1)
    // The queue has room again, but this answer would come after the close: the old server still ran it.
    sock.write(GET('/api/blocks?limit=4'))
    await closed
    await new Promise((r) => setTimeout(r, 100))
    await view.settled()
    expect(statuses(out())).toEqual([200, 200, 503])
    expect(view.calls).toEqual(['blocks 1 undefined', 'blocks 2 undefined'])
  })

  it('issue 2: requests waiting behind a running one are not run once the client has reset the connection', async () => {
    const s = await start({ pipelineDepthMax: 8 })
    view.delayMs = 300
    const { sock, out } = connectRaw(s)
    sock.write([1, 2, 3].map((n) => GET(`/api/blocks?limit=${n}`)).join(''))
    await until(() => statuses(out()).length >= 1)
    sock.resetAndDestroy()
    // The second is running when the reset arrives; the third would start after it.
    await until(() => view.calls.length >= 2)
    await view.settled()
    await new Promise((r) => setTimeout(r, 100))
    await view.settled()
    expect(view.calls).toEqual(['blocks 1 undefined', 'blocks 2 undefined'])
  })
})

/** A raw connection to the server whose received bytes collect in `out()`. */
function connectRaw(s: HttpServer): { sock: net.Socket; out: () => string } {
  const sock = net.connect(s.port, '127.0.0.1')
  sockets.push(sock)
  let out = ''
  sock.on('data', (d) => (out += d.toString('latin1')))
  sock.on('error', () => {})
  return { sock, out: () => out }
}

/** Resolves once `pred` holds (polled; a generous bound fails the test instead of hanging it). */
async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) throw new Error('until: timed out')
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Two connections open at once, each asking GET /health: true when both are answered 200 (both slots free). */
async function twoAtOnce(s: HttpServer): Promise<boolean> {
  const pair = [net.connect(s.port, '127.0.0.1'), net.connect(s.port, '127.0.0.1')]
  sockets.push(...pair)
  const answers = pair.map(
    (sock) =>
      new Promise<string>((resolve) => {
        let out = ''
        sock.on('error', () => {})
        sock.on('data', (d) => {
          out += d.toString('latin1')
          if (out.includes('\r\n\r\n')) resolve(out)
        })
        sock.on('close', () => resolve(out))
        setTimeout(() => resolve(out), 2000).unref()
      }),
  )
  // Both connected before either asks, so neither answer can free the other's slot.
  await Promise.all(pair.map((sock) => new Promise((r) => sock.once('connect', r).once('close', r))))
  for (const sock of pair) if (!sock.destroyed) sock.write(GET('/health'))
  const got = await Promise.all(answers)
  for (const sock of pair) sock.destroy()
  return got.every((out) => out.startsWith('HTTP/1.1 200'))
}

describe('clients that never read', () => {
  it('connections whose answers have not drained for the write-stall time are closed, freeing their slots', async () => {
    const s = await start({ connectionsMax: 2, writeStallMs: 300, pipelineDepthMax: 100_000 })
    // ~140 KB per answer: 120 pipelined answers (~17 MB) overflow every kernel buffer (~3 MB on loopback).
    view.farmersValue = Array.from({ length: 1000 }, (_, i) => ({ publicKey: MINER, status: 'active', stakePercent: i % 100, lastBlockWorked: 250, zeros: 9 }))
    for (let i = 0; i < 2; i++) {
      const sock = net.connect(s.port, '127.0.0.1')
      sockets.push(sock)
      sock.pause() // never read
      sock.on('error', () => {})
      sock.write(repeat(GET('/api/farmers?limit=1000'), 120))
    }
    // Both slots are taken; wait (generously) until both are free at once. The old
    // server kept them until the clients went away.
    const deadline = Date.now() + 8000
    let free = false
    while (!free && Date.now() < deadline) {
      free = await twoAtOnce(s)
      if (!free) await new Promise((r) => setTimeout(r, 100))
    }
    expect(free).toBe(true)
  }, 15_000)

  it('issue 3: a client reading large answers slowly but steadily is not cut, though they stay unsent far past the write-stall time; one that never reads is', async () => {
    const s = await start({ writeStallMs: STEADY_STALL_MS, pipelineDepthMax: 100_000 })
    view.farmersValue = Array.from({ length: 1000 }, (_, i) => ({ publicKey: MINER, status: 'active', stakePercent: i % 100, lastBlockWorked: 250, zeros: 9 }))
    const requests = repeat(GET('/api/farmers?limit=1000'), STEADY_ANSWERS)
    const never = net.connect(s.port, '127.0.0.1')
    sockets.push(never)
    never.pause()
    never.on('error', () => {})
    never.write(requests)
    const t0 = Date.now()
    const steady = await readSteadily(s, requests)
    // ~21 MB at a few MB/s, kernel buffers holding ~3 MB: answers stay unsent for several write-stall times.
    expect(Date.now() - t0).toBeGreaterThan(STEADY_STALL_MS)
    expect(steady.closedByServer).toBe(false)
    expect(steady.statuses).toEqual(Array(STEADY_ANSWERS).fill(200))
    // The one that never read was closed meanwhile: what it reads now ends early.
    let out = ''
    never.on('data', (d) => (out += d.toString('latin1')))
    const closed = once(never, 'close')
    never.resume()
    await closed
    expect(statuses(out).length).toBeLessThan(STEADY_ANSWERS)
  }, 30_000)
})

const STEADY_STALL_MS = 1500
/** ~140 KB each: ~21 MB in all, far more than the kernel buffers hold. */
const STEADY_ANSWERS = 150

/**
 * Pipelines `requests` on a connection of its own and reads the answers 64 KiB
 * at a time with a pause of 10 ms after each (a few MB/s, far below loopback
 * speed), until all have come or the server closes the connection. Statuses
 * are counted as the bytes pass (rescanning all of them per chunk slowed the
 * reader to a crawl).
 */
function readSteadily(s: HttpServer, requests: string): Promise<{ statuses: number[]; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(s.port, '127.0.0.1')
    sockets.push(sock)
    const got: number[] = []
    // Shorter than a status line: no status is counted twice.
    let carry = ''
    let done = false
    sock.on('data', (d) => {
      const text = carry + d.toString('latin1')
      got.push(...statuses(text))
      carry = text.slice(-11)
      if (got.length === STEADY_ANSWERS && text.endsWith('"limit":1000}')) {
        done = true
        sock.destroy()
        return
      }
      sock.pause()
      setTimeout(() => sock.resume(), 10)
    })
    sock.on('error', () => {})
    sock.on('close', () => resolve({ statuses: got, closedByServer: !done }))
    sock.write(requests)
  })
}
