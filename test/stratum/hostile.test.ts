// Hostile input and limits: the server stays up, bounds hold, and other sessions
// keep their latency.
import net from 'node:net'
import { describe, it, expect } from 'vitest'
import { startServer, Raw, login, findNonce, blockEvent, farmerAddress, PAYOUT } from './helpers.js'

const farmer = farmerAddress()

async function withServer(over: Parameters<typeof startServer>[0], fn: (s: Awaited<ReturnType<typeof startServer>>) => Promise<void>): Promise<void> {
  const s = await startServer(over)
  try {
    s.server.onBlock(blockEvent(9))
    s.server.onPlanted({ index: 9, farmers: [farmer] })
    await fn(s)
  } finally {
    await s.close()
  }
}

async function rtt(c: Raw, id: string): Promise<number> {
  const t = performance.now()
  await c.call(id, 'mining.extranonce.subscribe', [])
  return performance.now() - t
}

describe('listening state (the health probe)', () => {
  it('is true after listen and false after close', async () => {
    const t = await startServer()
    expect(t.server.listening).toBe(true)
    await t.close()
    expect(t.server.listening).toBe(false)
  })
})

describe('hostile input', () => {
  it('an oversize line gets -32700 and the connection is closed', async () => {
    await withServer({ stratumLineBytesMax: 256 }, async (s) => {
      const c = await Raw.connect(s.port)
      c.send(JSON.stringify({ id: 1, method: 'mining.subscribe', params: ['x'.repeat(300)] }) + '\n')
      await c.untilClosed()
      expect(c.lines[0]!.error!.code).toBe(-32700)
      const ok = await Raw.connect(s.port)
      expect((await ok.call(1, 'mining.subscribe', [])).result).toBeInstanceOf(Array)
      ok.close()
    })
  })

  it('a slow drip with no newline is closed once it passes the line bound, and by the subscribe timeout below it', async () => {
    await withServer({ stratumLineBytesMax: 256, subscribeTimeoutSeconds: 1 }, async (s) => {
      const c = await Raw.connect(s.port)
      for (let i = 0; i < 30 && !c.closed; i++) {
        c.send('x'.repeat(10))
        await new Promise((r) => setTimeout(r, 5))
      }
      await c.untilClosed()
      expect(c.lines[0]!.error!.code).toBe(-32700)
      const d = await Raw.connect(s.port)
      d.send('{"id":1')
      const t = Date.now()
      await d.untilClosed(4000)
      expect(Date.now() - t).toBeGreaterThanOrEqual(800)
    })
  })

  it('binary garbage gets -32700 and a close; the server keeps serving', async () => {
    await withServer({}, async (s) => {
      const c = await Raw.connect(s.port)
      c.sock.write(Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x7b, 0x0a]))
      await c.untilClosed()
      expect(c.lines[0]!.error!.code).toBe(-32700)
      const ok = await Raw.connect(s.port)
      expect((await ok.call(1, 'mining.subscribe', [])).result).toBeInstanceOf(Array)
      ok.close()
    })
  })

  it('deeply nested JSON: valid nesting is -32600 (connection kept), unbalanced is -32700', async () => {
    await withServer({}, async (s) => {
      const c = await Raw.connect(s.port)
      c.send('['.repeat(2000) + ']'.repeat(2000) + '\n')
      c.send(`{"id":1,"method":"mining.subscribe","params":${'['.repeat(1000)}${']'.repeat(1000)}}\n`)
      c.send('{"id":2,"method":"mining.subscribe","params":[]}\n')
      await c.until((ls) => ls.length >= 3)
      expect(c.lines[0]!.error!.code).toBe(-32600)
      expect(c.lines[1]!.error!.code).toBe(-32602)
      expect(c.lines[2]!.result).toBeInstanceOf(Array)
      c.send('{"a":'.repeat(800) + '\n')
      await c.untilClosed()
      expect(c.lines.at(-1)!.error!.code).toBe(-32700)
    })
  })

  it('10 000 lines in one write are all answered, in order', async () => {
    await withServer({}, async (s) => {
      const c = await Raw.connect(s.port)
      let batch = ''
      for (let i = 1; i <= 10_000; i++) batch += `{"id":${i},"method":"mining.extranonce.subscribe","params":[]}\n`
      c.sock.write(batch)
      await c.until((ls) => ls.length >= 10_000, 20_000)
      expect(c.lines.map((l) => l.id)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1))
      c.close()
    })
  })

  it('issue 5: a flood of short lines from a client that reads is paused, not buffered without bound', async () => {
    await withServer({}, async (s) => {
      const c = net.connect({ port: s.port, host: '127.0.0.1' })
      c.on('error', () => {})
      await new Promise<void>((r) => c.once('connect', () => r()))
      await new Promise((r) => setTimeout(r, 20))
      const sess = [...s.server.stratifier.sessions].at(-1)!
      let max = 0
      const push = sess.framer.push.bind(sess.framer)
      sess.framer.push = (chunk: Buffer) => {
        push(chunk)
        max = Math.max(max, sess.framer.bufferedBytes)
      }
      let answered = 0
      c.on('data', (d: Buffer) => {
        for (const b of d) if (b === 0x0a) answered++
      })
      const lines = 300_000
      c.write('{}\n'.repeat(lines))
      const t = Date.now()
      while (answered < lines && Date.now() - t < 20_000) await new Promise((r) => setTimeout(r, 20))
      expect(answered).toBe(lines)
      expect(max).toBeLessThan(160 * 1024)
      c.destroy()
    })
  })

  it('issue 5: bytes after a fatal error are not buffered', async () => {
    await withServer({}, async (s) => {
      const c = await Raw.connect(s.port)
      await new Promise((r) => setTimeout(r, 20))
      const sess = [...s.server.stratifier.sessions].at(-1)!
      c.send('not json\n')
      await c.until((ls) => ls.length >= 1)
      for (let i = 0; i < 16; i++) c.sock.write('x'.repeat(64 * 1024) + '\n')
      await new Promise((r) => setTimeout(r, 100))
      expect(sess.framer.bufferedBytes).toBeLessThan(64 * 1024)
      c.close()
    })
  })

  it('a client that never reads is paused, then dropped after the write stall; others keep their latency', async () => {
    await withServer({ writeStallSeconds: 1 }, async (s) => {
      const other = await Raw.connect(s.port)
      await rtt(other, 'warm')
      const hog = net.connect({ port: s.port, host: '127.0.0.1' })
      hog.on('error', () => {})
      await new Promise<void>((r) => hog.once('connect', () => r()))
      hog.pause() // never reads
      const line = `{"id":"${'i'.repeat(200)}","method":"mining.nope","params":[]}\n`
      const chunk = line.repeat(200)
      let closed = false
      hog.on('close', () => (closed = true))
      const t0 = Date.now()
      const lat: number[] = []
      while (!closed && Date.now() - t0 < 8000) {
        hog.write(chunk)
        lat.push(await rtt(other, `p${lat.length}`))
        await new Promise((r) => setTimeout(r, 10))
      }
      expect(closed).toBe(true)
      lat.sort((a, b) => a - b)
      expect(lat[Math.floor(lat.length * 0.99)]!).toBeLessThan(100)
      other.close()
    })
  })

  it('caps connections per IP and sessions; refusals are counted', async () => {
    await withServer({ connectionsPerIpMax: 3, sessionsMax: 5 }, async (s) => {
      const cs = await Promise.all([0, 1, 2].map(() => Raw.connect(s.port)))
      for (const c of cs) await c.call(1, 'mining.subscribe', [])
      const fourth = await Raw.connect(s.port)
      await fourth.untilClosed()
      cs[0]!.close()
      await new Promise((r) => setTimeout(r, 100))
      const again = await Raw.connect(s.port)
      expect((await again.call(1, 'mining.subscribe', [])).result).toBeInstanceOf(Array)
      const refused = (await s.metrics.connectionsRefusedTotal.get()).values.find((v) => v.labels.reason === 'ip_max')
      expect(refused?.value).toBe(1)
      for (const c of [...cs, again]) c.close()
    })
    await withServer({ sessionsMax: 2 }, async (s) => {
      const a = await Raw.connect(s.port)
      const b = await Raw.connect(s.port)
      await a.call(1, 'mining.subscribe', [])
      await b.call(1, 'mining.subscribe', [])
      const c = await Raw.connect(s.port)
      await c.untilClosed()
      expect(s.server.sessionCount).toBe(2)
      a.close()
      b.close()
    })
  })

  it('an invalid-share flood bans the session and refuses its IP; valid miners elsewhere are unaffected until then', async () => {
    await withServer({ banSharesMin: 10, banInvalidPercent: 50, banSeconds: 60 }, async (s) => {
      const c = await Raw.connect(s.port)
      const { e1 } = await login(c, PAYOUT)
      const n = await c.nextNotify()
      await c.call('ok', 'mining.submit', [PAYOUT, n.params![0], findNonce(n, e1, 1)])
      for (let i = 0; i < 20 && !c.closed; i++) c.send({ id: i, method: 'mining.submit', params: [PAYOUT, n.params![0], 'zz'] })
      await c.untilClosed()
      expect(c.lines.filter((l) => l.error?.code === 20).length).toBeGreaterThanOrEqual(9)
      const again = await Raw.connect(s.port)
      await again.untilClosed()
      expect((await s.metrics.bansTotal.get()).values[0]!.value).toBe(1)
    })
  })

  it('issue 6: made-up job ids count as invalid shares (ban); stale job ids it was sent stay neutral', async () => {
    await withServer({ banSharesMin: 10, banInvalidPercent: 50, banSeconds: 0 }, async (s) => {
      const c = await Raw.connect(s.port)
      const { e1 } = await login(c, PAYOUT)
      const n = await c.nextNotify()
      const job = n.params![0] as string
      expect((await c.call('ok', 'mining.submit', [PAYOUT, job, findNonce(n, e1, 1)])).result).toBe(true)
      // Block over: the job it was sent is stale; 20 submits of it are 21 and neutral.
      s.server.onBlock(blockEvent(10))
      for (let i = 0; i < 20; i++) expect((await c.call(`st${i}`, 'mining.submit', [PAYOUT, job, findNonce(n, e1, 1, 10 + i)])).error!.code).toBe(21)
      expect(c.closed).toBe(false)
      s.server.onPlanted({ index: 10, farmers: [farmer] })
      const n2 = await c.nextNotify(1)
      const next = (parseInt(n2.params![0] as string, 16) + 1).toString(16)
      // Ids never sent: above the last one, or not an id at all.
      for (const [i, id] of [next, 'ffffffff', 'zz', '0', n2.params![0] + ' '].entries()) {
        const r = await c.call(`u${i}`, 'mining.submit', [PAYOUT, id, findNonce(n2, e1, 1, 100 + i)])
        expect(r.error).toEqual({ code: 21, message: 'Job not found' })
      }
      for (let i = 0; i < 20 && !c.closed; i++) c.send({ id: `x${i}`, method: 'mining.submit', params: [PAYOUT, 'ffff' + i, findNonce(n2, e1, 1, 200 + i)] })
      await c.untilClosed()
      expect((await s.metrics.bansTotal.get()).values[0]!.value).toBe(1)
    })
  })

  it('closes a session without a valid share for SESSION_IDLE_SECONDS', async () => {
    await withServer({ sessionIdleSeconds: 1 }, async (s) => {
      const c = await Raw.connect(s.port)
      await login(c, PAYOUT)
      const t = Date.now()
      await c.untilClosed(4000)
      expect(Date.now() - t).toBeGreaterThanOrEqual(700)
    })
  })
})

describe('resume', () => {
  it('a reconnect with the same sessionId resumes the extranonce1; an unknown one gets a fresh one', async () => {
    await withServer({}, async (s) => {
      const a = await Raw.connect(s.port)
      const r1 = (await a.call(1, 'mining.subscribe', ['ua'])).result as [string, string, number]
      const n = await (async () => {
        await a.call(2, 'mining.authorize', [PAYOUT])
        return a.nextNotify()
      })()
      const nonce = findNonce(n, r1[1], 1)
      expect((await a.call(3, 'mining.submit', [PAYOUT, n.params![0], nonce])).result).toBe(true)
      a.close()
      await new Promise((r) => setTimeout(r, 100))
      const b = await Raw.connect(s.port)
      const r2 = (await b.call(1, 'mining.subscribe', ['ua', r1[0]])).result as [string, string, number]
      expect(r2[0]).toBe(r1[0])
      expect(r2[1]).toBe(r1[1])
      await b.call(2, 'mining.authorize', [PAYOUT])
      // Same job, same nonce: still a duplicate after the resume (no double credit).
      expect((await b.call(3, 'mining.submit', [PAYOUT, n.params![0], nonce])).error!.code).toBe(22)
      const c = await Raw.connect(s.port)
      const r3 = (await c.call(1, 'mining.subscribe', ['ua', 'ffffffffffffffff'])).result as [string, string, number]
      expect(r3[0]).not.toBe(r1[0])
      expect(r3[1]).not.toBe(r1[1])
      // A live session's id cannot be taken over.
      const d = await Raw.connect(s.port)
      const r4 = (await d.call(1, 'mining.subscribe', ['ua', r1[0]])).result as [string, string, number]
      expect(r4[1]).not.toBe(r1[1])
      for (const x of [b, c, d]) x.close()
    })
  })
})
