// Difficulty changes over real TCP: suggest_difficulty, vardiff retargets and d=.
import { describe, it, expect } from 'vitest'
import { startServer, Raw, login, blockEvent, farmerAddress, minerSession, PAYOUT } from './helpers.js'

const farmer = farmerAddress()

describe('suggest_difficulty floor', () => {
  it('issue 2: a floor that rounds to the current difficulty (4.4 at 4) re-issues no job, on suggest or on retarget', async () => {
    const s = await startServer({ difficultyStart: 4, vardiffRetargetSeconds: 0.1 })
    try {
      s.server.onBlock(blockEvent(9))
      s.server.onPlanted({ index: 9, farmers: [farmer] })
      const c = await Raw.connect(s.port)
      await c.call(1, 'mining.subscribe', [])
      await c.call(2, 'mining.suggest_difficulty', [4])
      await c.call(3, 'mining.authorize', [PAYOUT])
      await c.nextNotify()
      for (let i = 0; i < 3; i++) expect((await c.call(10 + i, 'mining.suggest_difficulty', [4.4])).result).toBe(true)
      // Several vardiff retargets (every 0.1 s) pass without shares; the floor holds the difficulty at 4.
      await new Promise((r) => setTimeout(r, 600))
      expect(c.notifications('mining.notify')).toHaveLength(1)
      expect(c.notifications('mining.set_difficulty').map((l) => l.params)).toEqual([[4]])
      c.close()
    } finally {
      await s.close()
    }
  })
})

describe('authorize', () => {
  it('issue 8: d= below the pool minimum is clamped to it, not rejected', async () => {
    const s = await startServer({ difficultyMin: 16, difficultyStart: 64 })
    try {
      const { c } = await minerSession(s, farmer, 'd=0.5')
      expect(c.notifications('mining.set_difficulty').map((l) => l.params)).toEqual([[16]])
      c.close()
    } finally {
      await s.close()
    }
  })

  it('issue 8: authorize is followed by set_difficulty also when every planted farmer is worked', async () => {
    const s = await startServer({ difficultyStart: 8 })
    try {
      s.server.onBlock(blockEvent(9))
      s.server.onPlanted({ index: 9, farmers: [farmer] })
      const first = await Raw.connect(s.port)
      await login(first, PAYOUT)
      await first.nextNotify() // creates the work, so it can be marked worked
      s.server.markWorked(9, farmer)
      const c = await Raw.connect(s.port)
      await login(c, PAYOUT)
      await c.until((ls) => ls.some((l) => l.method === 'mining.set_difficulty'), 2000)
      // Jobs come with the login rebalance (LOGIN_REBALANCE_MS, 50 ms) after it: wait it out.
      await new Promise((r) => setTimeout(r, 200))
      expect(c.notifications('mining.set_difficulty').map((l) => l.params)).toEqual([[8]])
      expect(c.notifications('mining.notify')).toHaveLength(0)
      for (const x of [first, c]) x.close()
    } finally {
      await s.close()
    }
  })
})

describe('login storm', () => {
  it('200 sessions authorizing at once each get set_difficulty and one job, from a handful of rebalances (not one per login)', async () => {
    const s = await startServer()
    const clients: Raw[] = []
    try {
      s.server.onBlock(blockEvent(9))
      s.server.onPlanted({ index: 9, farmers: [farmer, farmerAddress()] })
      const rebalancesBefore = await notifyObservations(s.metrics)
      for (let i = 0; i < 200; i++) clients.push(await Raw.connect(s.port))
      // Every client sends subscribe + authorize in one write, all at once (as after a pool restart).
      for (const c of clients) c.sock.write(`{"id":1,"method":"mining.subscribe","params":[]}\n{"id":2,"method":"mining.authorize","params":["${PAYOUT}"]}\n`)
      for (const c of clients) {
        await c.until((ls) => ls.some((l) => l.method === 'mining.notify'))
        expect(c.notifications('mining.set_difficulty')).toHaveLength(1)
        expect(c.notifications('mining.notify')).toHaveLength(1)
        // PROTOCOL.md order: authorize's answer, then set_difficulty, then notify.
        const order = c.lines.map((l) => (l.id === 2 ? 'auth' : l.method)).filter((x) => x !== undefined && x !== null)
        expect(order.slice(order.indexOf('auth'))).toEqual(['auth', 'mining.set_difficulty', 'mining.notify'])
      }
      const rebalances = (await notifyObservations(s.metrics)) - rebalancesBefore
      expect(rebalances).toBeGreaterThan(0)
      expect(rebalances).toBeLessThan(50)
    } finally {
      for (const c of clients) c.close()
      await s.close()
    }
  })
})

/** Rebalances that sent jobs so far (each observes kale_pool_notify_seconds once). */
async function notifyObservations(metrics: { registry: { getSingleMetricAsString(name: string): Promise<string> } }): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString('kale_pool_notify_seconds')
  const m = /kale_pool_notify_seconds_count\s+(\d+)/.exec(text)
  return m ? Number(m[1]) : 0
}
