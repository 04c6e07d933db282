// Pipelined submits: several submits of one session may be in the verifier at
// once, but answers, outcomes and side effects must be exactly those of handling
// each line after the previous one was answered.
import { describe, it, expect } from 'vitest'
import { startServer, findNonce, farmerAddress, minerSession, PAYOUT, StubVerifier } from './helpers.js'
import type { Verifier } from '../../src/workers/verifier.js'

const farmer = farmerAddress()

const session = (s: Awaited<ReturnType<typeof startServer>>) => minerSession(s, farmer, 'd=1')

const submit = (id: unknown, params: unknown[]) => JSON.stringify({ id, method: 'mining.submit', params }) + '\n'

describe('pipelined submits', () => {
  for (const kind of ['piscina', 'stub'] as const) {
    it(`answers a burst in line order with serial outcomes (${kind} verifier)`, async () => {
      const s = await startServer({}, kind === 'stub' ? { verifier: new StubVerifier() as unknown as Verifier } : {})
      try {
        const { c, e1, n, jobId } = await session(s)
        const good = [0, 1, 2, 3].map((k) => findNonce(n, e1, 1, k * 1000 + 1))
        const burst =
          submit(10, [PAYOUT, jobId, good[0]]) +
          submit(11, [PAYOUT, jobId, good[1]]) +
          submit(12, [PAYOUT, jobId, good[0]!.toUpperCase()]) + // duplicate of a share still verifying
          submit(13, [PAYOUT, 'ffff', good[2]]) + // unknown job, behind pending shares
          submit(14, [PAYOUT, jobId, good[2]]) +
          JSON.stringify({ id: 15, method: 'mining.extranonce.subscribe', params: [] }) + '\n' +
          submit(16, [PAYOUT, jobId, good[3]]) +
          submit(17, [PAYOUT, jobId, good[1]]) + // duplicate again, after a non-submit line
          submit(18, [PAYOUT, jobId]) + // invalid params
          submit(19, [PAYOUT, jobId, 'zz']) // malformed nonce
        c.send(burst)
        await c.until((ls) => ls.some((l) => l.id === 19))
        const answers = c.lines.filter((l) => typeof l.id === 'number' && (l.id as number) >= 10)
        expect(answers.map((l) => l.id)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
        const brief = answers.map((l) => (l.result === true ? 'ok' : l.error!.code))
        expect(brief).toEqual(['ok', 'ok', 22, 21, 'ok', 'ok', 'ok', 22, -32602, 20])
        expect(s.sink.shares).toHaveLength(4)
        c.close()
      } finally {
        await s.close()
      }
    })
  }

  it('a share answered before an earlier one of its session is judged on its own hash, though the verifier reuses its buffer', async () => {
    const stub = new StubVerifier()
    stub.reverse = true
    const s = await startServer({}, { verifier: stub as unknown as Verifier })
    try {
      // Above difficulty 1, so that a hash read from the scribbled buffer (all 0xff) fails the target.
      const { c, e1, n, jobId } = await minerSession(s, farmer, 'd=64')
      const good = [0, 1, 2].map((k) => findNonce(n, e1, 64, k * 100_000 + 1))
      c.send(submit(40, [PAYOUT, jobId, good[0]]) + submit(41, [PAYOUT, jobId, good[1]]) + submit(42, [PAYOUT, jobId, good[2]]))
      await c.until((ls) => ls.some((l) => l.id === 42))
      const answers = c.lines.filter((l) => typeof l.id === 'number' && (l.id as number) >= 40)
      // 42 and 41 were answered first and waited for 40: judged on a scribbled buffer they read as low difficulty (23).
      expect(answers.map((l) => (l.result === true ? l.id : l.error!.code))).toEqual([40, 41, 42])
      expect(s.sink.shares).toHaveLength(3)
    } finally {
      await s.close()
    }
  })

  it('a parse error behind pending submits is answered after them, then the connection closes', async () => {
    const s = await startServer()
    try {
      const { c, e1, n, jobId } = await session(s)
      const good = [0, 1].map((k) => findNonce(n, e1, 1, k * 1000 + 1))
      c.send(submit(20, [PAYOUT, jobId, good[0]]) + submit(21, [PAYOUT, jobId, good[1]]) + '{"id":22,\n' + submit(23, [PAYOUT, jobId, good[0]]))
      await c.untilClosed()
      const tail = c.lines.filter((l) => l.id === 20 || l.id === 21 || l.error?.code === -32700 || l.id === 23)
      expect(tail.map((l) => (l.result === true ? l.id : l.error!.code))).toEqual([20, 21, -32700])
      expect(s.sink.shares).toHaveLength(2)
    } finally {
      await s.close()
    }
  })

  it('shares behind the one that triggers an invalid-share ban are never credited', async () => {
    const s = await startServer({ banSharesMin: 2, banInvalidPercent: 40, banSeconds: 0 })
    try {
      const { c, e1, n, jobId } = await session(s)
      const good = [0, 1, 2].map((k) => findNonce(n, e1, 1, k * 1000 + 1))
      // accepted, duplicate (1 of 2 invalid: 50 % > 40 % → ban), then two good shares that must not count
      c.send(submit(30, [PAYOUT, jobId, good[0]]) + submit(31, [PAYOUT, jobId, good[0]]) + submit(32, [PAYOUT, jobId, good[1]]) + submit(33, [PAYOUT, jobId, good[2]]))
      await c.untilClosed()
      const ids = c.lines.filter((l) => typeof l.id === 'number' && (l.id as number) >= 30).map((l) => l.id)
      expect(ids).toEqual([30, 31])
      expect(s.sink.shares).toHaveLength(1)
    } finally {
      await s.close()
    }
  })
})
