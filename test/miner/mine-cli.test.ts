// `kale-pool mine`'s life cycle. Review issue 7: --seconds was armed only once
// connected (a miner whose pool never answered ran forever); after SIGINT the
// --seconds timer kept the process alive, and the signal listeners stayed; a bad
// --user was only found by the pool, and its refusal (24) was retried forever;
// a re-sent job id stayed the oldest of the live set and was evicted first.
// Review of the miner, issue 8: after a client.reconnect to another pool it
// still printed "connected to <--url>".
import { afterEach, describe, expect, it, vi } from 'vitest'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { promisify } from 'node:util'
import { run } from '../../src/commands/mine.js'
import { noteJob, JOBS_LIVE_MAX } from '../../src/miner/miner.js'
import { startServer, blockEvent, farmerAddress, PAYOUT } from '../stratum/helpers.js'
import { FakePool, login, waitFor, deadPort } from './fake-pool.js'

const exec = promisify(execFile)
/** Kills a CLI that does not end by itself (the old behaviour), so the test fails instead of hanging. */
const EXEC_TIMEOUT_MS = 20_000

let pool: FakePool | undefined
let pool2: FakePool | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  await pool?.close()
  await pool2?.close()
  pool = pool2 = undefined
})


function quiet(): string[] {
  const lines: string[] = []
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    lines.push(String(s))
    return true
  })
  return lines
}

describe('kale-pool mine', () => {
  it('--seconds counts from the start: against a pool that is not there it still ends, with exit 0', async () => {
    const port = await deadPort()
    const lines = quiet()
    const code = await run(['--url', `stratum+tcp://127.0.0.1:${port}`, '--user', PAYOUT, '--threads', '1', '--seconds', '0.5'])
    expect(code).toBe(0)
    expect(lines.some((l) => l.includes('connected to'))).toBe(false)
    expect(lines.at(-1)).toMatch(/stopped: accepted 0 rejected 0 lost 0/)
  }, EXEC_TIMEOUT_MS)

  it('removes its signal listeners when it ends', async () => {
    const s = await startServer()
    try {
      const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]
      quiet()
      expect(await run(['--url', `stratum+tcp://127.0.0.1:${s.port}`, '--user', PAYOUT, '--threads', '1', '--seconds', '0.3'])).toBe(0)
      expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before)
    } finally {
      await s.close()
    }
  })

  it('SIGINT stops it at once although --seconds is far away, with exit 0', async () => {
    const s = await startServer()
    const child = spawn('node', ['dist/cli.js', 'mine', '--url', `stratum+tcp://127.0.0.1:${s.port}`, '--user', `${PAYOUT}.sig`, '--threads', '1', '--seconds', '3600'])
    try {
      s.server.onBlock(blockEvent(5))
      s.server.onPlanted({ index: 5, farmers: [farmerAddress()] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      await waitFor(() => out.includes('mining with 1 thread(s)'), EXEC_TIMEOUT_MS)
      const exited = once(child, 'exit')
      child.kill('SIGINT')
      const [code] = (await exited) as [number | null]
      expect(code).toBe(0)
      expect(out).toMatch(/stopped: accepted \d+ rejected 0 lost \d+/)
    } finally {
      child.kill('SIGKILL')
      await s.close()
    }
  }, 30_000)

  it('refuses a bad --user before connecting (exit 2)', async () => {
    const s = await startServer()
    try {
      const url = `stratum+tcp://127.0.0.1:${s.port}`
      const broken = PAYOUT.slice(0, -1) + (PAYOUT.endsWith('A') ? 'B' : 'A')
      for (const [user, re] of [
        ['GBAD', /--user must start with a Stellar G-address/],
        [broken, /--user must start with a Stellar G-address \(56 characters, valid checksum\)/],
        [`${PAYOUT}.bad!name`, /--user worker name \(after the first "\."\) must match/],
        [`${PAYOUT}.${'w'.repeat(33)}`, /--user worker name/],
        [`${PAYOUT}.`, /--user worker name/],
      ] as const) {
        await expect(exec('node', ['dist/cli.js', 'mine', '--url', url, '--user', user, '--threads', '1'], { timeout: EXEC_TIMEOUT_MS }), user)
          .rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(re) })
      }
      expect(s.server.stratifier.sessions.size).toBe(0)
    } finally {
      await s.close()
    }
  }, 60_000)

  it('exits 2 when the pool refuses the user (24) instead of retrying forever', async () => {
    pool = await FakePool.start((c, r) => {
      if (r.method === 'mining.authorize') return c.error(r.id, 24, 'Unauthorized worker')
      login(c, r)
    })
    await expect(exec('node', ['dist/cli.js', 'mine', '--url', pool.url, '--user', `${PAYOUT}.rig`, '--threads', '1'], { timeout: EXEC_TIMEOUT_MS }))
      .rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/the pool refused user ".*\.rig": Unauthorized worker \(24\)/) })
    expect(pool.conns).toHaveLength(1)
  }, 30_000)
})

describe('kale-pool mine after a client.reconnect', () => {
  it('issue 8: prints the URL it actually connected to, not --url', async () => {
    pool2 = await FakePool.start((c, r) => login(c, r))
    pool = await FakePool.start((c, r) => login(c, r, (cc) => cc.notify('client.reconnect', ['127.0.0.1', pool2!.port, 0])))
    const lines = quiet()
    // The move waits the least backoff (0.5 s): the second connection comes well within --seconds.
    expect(await run(['--url', pool.url, '--user', PAYOUT, '--threads', '1', '--seconds', '3'])).toBe(0)
    const connectedTo = lines.map((l) => /^\S+ connected to (\S+) /.exec(l)?.[1]).filter((u) => u !== undefined)
    expect(connectedTo).toEqual([pool.url, pool2.url])
    expect(lines.some((l) => /disconnected \(the pool asked to reconnect\); reconnecting in \d+\.\d s/.test(l))).toBe(true)
  }, EXEC_TIMEOUT_MS)
})

describe('noteJob', () => {
  it('a re-sent job id becomes the newest: the job being mined is not evicted first', () => {
    const live = new Set<string>()
    noteJob(live, 'a', true)
    for (let i = 1; i < JOBS_LIVE_MAX; i++) noteJob(live, `b${i}`, false)
    expect(live.size).toBe(JOBS_LIVE_MAX)
    noteJob(live, 'a', false) // a rebalance back to a's farmer
    noteJob(live, 'c', false)
    expect(live.has('a')).toBe(true)
    expect(live.has('b1')).toBe(false)
    expect(live.size).toBe(JOBS_LIVE_MAX)
    noteJob(live, 'd', true)
    expect([...live]).toEqual(['d'])
  })
})
