// Shares still in the verifier when a session ends: credited unless the session
// was closed for a ban or a fatal error; on graceful shutdown also answered.
import { describe, it, expect } from 'vitest'
import { startServer, Raw, findNonce, farmerAddress, minerSession, PAYOUT, StubVerifier } from './helpers.js'

const farmer = farmerAddress()

async function slowServer(delayMs: number) {
  const stub = new StubVerifier()
  stub.delayMs = delayMs
  const s = await startServer({}, { verifier: stub })
  return { s, ...(await minerSession(s, farmer, 'd=1')) }
}

const submit = (id: unknown, params: unknown[]) => JSON.stringify({ id, method: 'mining.submit', params }) + '\n'

describe('shares in flight when a session closes', () => {
  it('issue 4: a client that disconnects with shares in the verifier still gets them credited', async () => {
    const { s, c, e1, n, jobId } = await slowServer(200)
    try {
      c.send(submit(1, [PAYOUT, jobId, findNonce(n, e1, 1, 0)]) + submit(2, [PAYOUT, jobId, findNonce(n, e1, 1, 100)]))
      await new Promise((r) => setTimeout(r, 50))
      c.close()
      await new Promise((r) => setTimeout(r, 50))
      expect(s.server.stratifier.draining.size).toBe(1)
      await new Promise((r) => setTimeout(r, 350))
      expect(s.sink.shares).toHaveLength(2)
      // Forgotten once its shares are judged (it was kept until shutdown: a leak per such disconnect).
      expect(s.server.stratifier.draining.size).toBe(0)
    } finally {
      await s.close()
    }
  })

  it('issue 4: a session is resumable only after its shares in flight are judged (no second copy of a nonce slips in)', async () => {
    const { s, c, e1, n, jobId } = await slowServer(300)
    try {
      const sessionId = (c.lines.find((l) => l.id === 's')!.result as string[])[0]
      const nonce = findNonce(n, e1, 1, 0)
      c.send(submit(1, [PAYOUT, jobId, nonce]))
      await new Promise((r) => setTimeout(r, 50))
      c.close()
      await new Promise((r) => setTimeout(r, 50))
      const b = await Raw.connect(s.port)
      const early = (await b.call(1, 'mining.subscribe', ['ua', sessionId])).result as string[]
      expect(early[1]).not.toBe(e1)
      await b.call(2, 'mining.authorize', [PAYOUT])
      expect((await b.call(3, 'mining.submit', [PAYOUT, jobId, nonce])).result).not.toBe(true)
      await new Promise((r) => setTimeout(r, 400))
      expect(s.sink.shares).toHaveLength(1)
      // Judged: now it resumes, and the nonce is a duplicate.
      b.close()
      await new Promise((r) => setTimeout(r, 100))
      const d = await Raw.connect(s.port)
      expect(((await d.call(1, 'mining.subscribe', ['ua', sessionId])).result as string[])[1]).toBe(e1)
      await d.call(2, 'mining.authorize', [PAYOUT])
      expect((await d.call(3, 'mining.submit', [PAYOUT, jobId, nonce])).error!.code).toBe(22)
      d.close()
    } finally {
      await s.close()
    }
  })

  it('issue 4: close() answers and credits the shares in the verifier before closing the sockets', async () => {
    const { s, c, e1, n, jobId } = await slowServer(300)
    c.send(submit(1, [PAYOUT, jobId, findNonce(n, e1, 1, 0)]) + submit(2, [PAYOUT, jobId, findNonce(n, e1, 1, 100)]))
    await new Promise((r) => setTimeout(r, 50))
    const t = Date.now()
    await s.close()
    expect(Date.now() - t).toBeLessThan(2500)
    await c.untilClosed()
    expect(c.lines.filter((l) => l.id === 1 || l.id === 2).map((l) => l.result)).toEqual([true, true])
    expect(s.sink.shares).toHaveLength(2)
  })

  it('issue 4: close() does not wait past its bound for a verifier that never answers', async () => {
    const { s, c, e1, n, jobId } = await slowServer(60_000)
    c.send(submit(1, [PAYOUT, jobId, findNonce(n, e1, 1, 0)]))
    await new Promise((r) => setTimeout(r, 50))
    const t = Date.now()
    await s.close()
    expect(Date.now() - t).toBeLessThan(3000)
    await c.untilClosed()
  })
})
