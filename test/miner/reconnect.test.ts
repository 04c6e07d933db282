// How the client reconnects when the pool drops it or asks it to go elsewhere.
// Review of the miner, issue 6: a client.reconnect with wait 0 was obeyed at
// once, and every successful login reset the backoff, so a hostile pool kept
// the miner reconnecting in a fast loop for ever. Issue 8: a client.reconnect
// to another host or port held for good, however often it failed there.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { StratumClient } from '../../src/miner/client.js'
import { Reconnects, REDIRECT_ATTEMPTS_MAX } from '../../src/miner/reconnect.js'
import { PAYOUT } from '../stratum/helpers.js'
import { FakePool, login, waitFor, deadPort } from './fake-pool.js'

let pool: FakePool | undefined
let client: StratumClient | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  client?.close()
  await pool?.close()
  pool = client = undefined
})

/** The top of the backoff's jitter range, so every delay is exact: min·2^attempt. */
function noJitter(): void {
  vi.spyOn(Math, 'random').mockReturnValue(1)
}

/** The delays the client announces with each 'disconnect', until it has seen `n`. */
async function disconnectDelays(c: StratumClient, n: number): Promise<(number | undefined)[]> {
  const delays: (number | undefined)[] = []
  c.on('disconnect', (_reason: string, delayMs: number | undefined) => delays.push(delayMs))
  await c.connect()
  await waitFor(() => delays.length >= n)
  return delays.slice(0, n)
}

describe('backoff', () => {
  it('issue 6: a pool asking every connection to reconnect with wait 0 is reconnected to after a growing backoff, not at once', async () => {
    pool = await FakePool.start((c, r) => login(c, r, (cc) => cc.notify('client.reconnect', ['', 0, 0])))
    noJitter()
    client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 20, backoffMsMax: 10_000 })
    // The old client waited the pool's 0 ms every time.
    expect(await disconnectDelays(client, 5)).toEqual([20, 40, 80, 160, 320])
  })

  it('issue 6: a longer wait asked by the pool is honoured', async () => {
    pool = await FakePool.start((c, r) => login(c, r, (cc) => {
      if (cc.n === 1) cc.notify('client.reconnect', ['', 0, 0.25])
    }))
    noJitter()
    client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 20, backoffMsMax: 10_000 })
    expect(await disconnectDelays(client, 1)).toEqual([250])
  })

  it('issue 6: only a connection that stayed up for backoffResetMs resets the backoff, not every login', async () => {
    // Dropped right after login, except the 4th connection, kept well past backoffResetMs.
    pool = await FakePool.start((c, r) => login(c, r, (cc) => {
      if (cc.n === 4) setTimeout(() => cc.end(), 300)
      else cc.end()
    }))
    noJitter()
    client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 20, backoffMsMax: 10_000, backoffResetMs: 100 })
    // The old client started again from the minimum after every login: 20, 20, 20, …
    expect(await disconnectDelays(client, 5)).toEqual([20, 40, 80, 20, 40])
  })
})

describe('client.reconnect to another place', () => {
  it(`issue 8: after ${REDIRECT_ATTEMPTS_MAX} failed attempts at the target of a client.reconnect, the client goes back to its url`, async () => {
    const dead = await deadPort()
    pool = await FakePool.start((c, r) => login(c, r, (cc) => {
      // IPv6 or none, ::1 refuses the connection: nothing listens there.
      if (cc.n === 1) cc.notify('client.reconnect', ['[::1]', dead, 0])
    }))
    client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 10, backoffMsMax: 20 })
    const failed: string[] = []
    client.on('connectFailed', (_err: Error, _delayMs: number, url: string) => failed.push(url))
    await client.connect()
    expect(client.url).toBe(pool.url)
    // The old client tried the dead port for ever.
    await waitFor(() => pool!.conns.length === 2 && client!.ready)
    expect(failed).toEqual(Array(REDIRECT_ATTEMPTS_MAX).fill(`stratum+tcp://[::1]:${dead}`))
    expect(client.url).toBe(pool.url)
  })

  it('a target that works is kept, and named by url', async () => {
    const target = await FakePool.start((c, r) => login(c, r))
    try {
      pool = await FakePool.start((c, r) => login(c, r, (cc) => cc.notify('client.reconnect', ['127.0.0.1', target.port, 0])))
      client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 10, backoffMsMax: 20 })
      await client.connect()
      await waitFor(() => target.conns.length === 1 && client!.ready)
      expect(client.url).toBe(`stratum+tcp://127.0.0.1:${target.port}`)
      expect(pool.conns).toHaveLength(1)
    } finally {
      await target.close()
    }
  })
})

describe('Reconnects (the decisions alone)', () => {
  const home = { host: 'pool.example', port: 3333, tls: false }

  it('floors the pool\'s wait at the backoff, grows the backoff until a connection stays up, and honours a longer wait once', () => {
    noJitter()
    const r = new Reconnects(home, { backoffMsMin: 100, backoffMsMax: 1000, backoffResetMs: 5000 })
    r.requested(undefined, undefined, 0)
    expect(r.nextDelayMs()).toBe(100)
    r.lost(10)
    r.requested(undefined, undefined, 0)
    expect(r.nextDelayMs()).toBe(200)
    r.lost(4999)
    expect([r.nextDelayMs(), r.nextDelayMs(), r.nextDelayMs()]).toEqual([400, 800, 1000])
    r.lost(5000)
    r.requested(undefined, undefined, 3000)
    expect(r.nextDelayMs()).toBe(3000)
    expect(r.nextDelayMs()).toBe(200) // the wait was for one reconnect
  })

  it('keeps a redirect until REDIRECT_ATTEMPTS_MAX attempts in a row there fail; a success restarts the count; home\'s own address is home', () => {
    const r = new Reconnects(home)
    r.requested('other.example', undefined, 0)
    expect(r.target).toEqual({ host: 'other.example', port: 3333, tls: false })
    for (let i = 1; i < REDIRECT_ATTEMPTS_MAX; i++) r.failed()
    r.opened()
    for (let i = 1; i < REDIRECT_ATTEMPTS_MAX; i++) r.failed()
    expect(r.target.host).toBe('other.example')
    r.failed()
    expect(r.target).toBe(home)
    r.failed() // failures at home never move the client
    expect(r.target).toBe(home)
    r.requested('pool.example', 3333, 0)
    expect(r.target).toBe(home)
  })
})

