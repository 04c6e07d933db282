// The reference miner against a real server: shares accepted; the CLI prints
// its report and the --benchmark JSON line.
import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Miner } from '../../src/miner/miner.js'
import { StratumClient, backoffMs, parseStratumUrl } from '../../src/miner/client.js'
import { startServer, blockEvent, farmerAddress, PAYOUT } from '../stratum/helpers.js'

const exec = promisify(execFile)

async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) throw new Error('timeout')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('miner', () => {
  it('mines accepted shares on hash threads; the pool credits them', async () => {
    const s = await startServer()
    const miner = new Miner({ url: `stratum+tcp://127.0.0.1:${s.port}`, user: `${PAYOUT}.m1`, password: 'd=4096', threads: 1 })
    try {
      s.server.onBlock(blockEvent(3))
      s.server.onPlanted({ index: 3, farmers: [farmerAddress()] })
      await miner.start()
      await waitFor(() => miner.stats.accepted >= 5, 10_000)
      expect(miner.stats.rejected).toBe(0)
      expect(s.sink.shares.filter((x) => x.worker === 'm1').every((x) => x.difficulty === 4096)).toBe(true)
    } finally {
      await miner.stop()
      await s.close()
    }
  })

  it('the client reconnects after a server-side close and resumes its extranonce1', async () => {
    const s = await startServer()
    const c = new StratumClient({ url: `stratum+tcp://127.0.0.1:${s.port}`, user: PAYOUT, backoffMsMin: 10, backoffMsMax: 50 })
    try {
      await c.connect()
      const e1 = c.extranonce1Hex
      const sid = c.sessionId
      let drops = 0
      let connects = 0
      c.on('disconnect', () => drops++)
      c.on('connected', () => connects++)
      for (const sess of s.server.stratifier.sessions) sess.socket.destroy()
      await waitFor(() => drops === 1 && connects === 1, 5000)
      expect(c.sessionId).toBe(sid)
      expect(c.extranonce1Hex).toBe(e1)
    } finally {
      c.close()
      await s.close()
    }
  })

  it('parses urls and bounds backoff', () => {
    expect(parseStratumUrl('stratum+tcp://pool.example:3333')).toEqual({ host: 'pool.example', port: 3333, tls: false })
    expect(parseStratumUrl('stratum+ssl://[::1]:4444')).toEqual({ host: '::1', port: 4444, tls: true })
    expect(() => parseStratumUrl('http://x:1')).toThrow(/stratum\+tcp/)
    for (let a = 0; a < 30; a++) {
      const b = backoffMs(a, 100, 5000)
      expect(b).toBeGreaterThanOrEqual(100)
      expect(b).toBeLessThanOrEqual(5000)
    }
  })

  it('kale-pool mine prints its report; --benchmark prints one JSON line; bad args exit 2', async () => {
    const s = await startServer()
    try {
      s.server.onBlock(blockEvent(4))
      s.server.onPlanted({ index: 4, farmers: [farmerAddress()] })
      const r = await exec('node', ['dist/cli.js', 'mine', '--url', `stratum+tcp://127.0.0.1:${s.port}`, '--user', `${PAYOUT}.cli`, '--password', 'd=65536', '--threads', '1', '--seconds', '2.5', '--report-seconds', '1'])
      expect(r.stdout).toMatch(/hashrate \d+\.\d\d MH\/s accepted \d+ rejected 0 lost \d+/)
      expect(r.stdout).toMatch(/stopped: accepted \d+ rejected 0 lost \d+\n$/)
      expect(s.sink.shares.some((x) => x.worker === 'cli')).toBe(true)
      const b = await exec('node', ['dist/cli.js', 'mine', '--benchmark', '--threads', '1', '--seconds', '0.5'])
      const j = JSON.parse(b.stdout.trim()) as { hashesPerSecond: number; threads: number }
      expect(j.threads).toBe(1)
      expect(j.hashesPerSecond).toBeGreaterThan(100_000)
      await expect(exec('node', ['dist/cli.js', 'mine', '--url', 'nope', '--user', PAYOUT])).rejects.toMatchObject({ code: 2 })
      // Past one timer's reach (2^31 − 1 ms) the miner stopped at once; hex is no decimal number.
      for (const seconds of ['3000000', '0x10']) {
        await expect(exec('node', ['dist/cli.js', 'mine', '--url', `stratum+tcp://127.0.0.1:${s.port}`, '--user', PAYOUT, '--seconds', seconds]), seconds)
          .rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--seconds must be a number 0\.1\.\.2147483/) })
      }
      // Only real commands: inherited object keys are unknown commands, not crashes.
      for (const name of ['toString', 'constructor', '__proto__']) {
        await expect(exec('node', ['dist/cli.js', name]), name).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(`unknown command "${name}"`) })
      }
    } finally {
      await s.close()
    }
  })
})
