// Review issue 2: a bad line from the pool (JSON null, an impossible difficulty,
// a short entropy, a bad extranonce, a malformed subscribe result) threw out of
// the socket's data handler and crashed the miner. Every field is now checked
// (messages.ts): a bad notification is reported and ignored, a bad subscribe
// result fails that connection attempt, and mining goes on.
// Review issue 4: a client.reconnect to port 70000 made net.connect throw and
// reconnecting stopped for good. Review issue 7: a set_extranonce of a lost
// connection applied to the next session.
import { afterEach, describe, expect, it } from 'vitest'
import { Miner } from '../../src/miner/miner.js'
import { StratumClient, type JobNotice } from '../../src/miner/client.js'
import { parseServerLine, parseSubscribeResult } from '../../src/miner/messages.js'
import { PAYOUT } from '../stratum/helpers.js'
import { FakePool, login, work, notifyParams, waitFor, ENTROPY, FARMER_KEY, type FakeConn } from './fake-pool.js'

let pool: FakePool | undefined
let pool2: FakePool | undefined
let miner: Miner | undefined
let client: StratumClient | undefined
afterEach(async () => {
  client?.close()
  await miner?.stop()
  await pool?.close()
  await pool2?.close()
  pool = pool2 = miner = client = undefined
})

const notify = (params: unknown[]) => JSON.stringify({ method: 'mining.notify', params })

const BAD_LINES: [string, string, RegExp][] = [
  ['JSON null', 'null', /not a JSON object/],
  ['a JSON array', '[1,2]', /not a JSON object/],
  ['not JSON', '{"method":', /not JSON/],
  ['difficulty 0', '{"method":"mining.set_difficulty","params":[0]}', /difficulty must be a finite number >= 1/],
  ['difficulty 1e999', '{"method":"mining.set_difficulty","params":[1e999]}', /difficulty must be a finite number >= 1/],
  ['difficulty as a string', '{"method":"mining.set_difficulty","params":["5"]}', /difficulty must be a finite number >= 1/],
  ['notify with a short entropy', notify(['bad', 7, 'ab'.repeat(31), FARMER_KEY, 'G', true]), /entropy must be 64 hex digits/],
  ['notify with index -1', notify(['bad', -1, ENTROPY, FARMER_KEY, 'G', true]), /blockIndex must be an integer/],
  ['notify with index 1.5', notify(['bad', 1.5, ENTROPY, FARMER_KEY, 'G', true]), /blockIndex must be an integer/],
  ['notify with index 2^32', notify(['bad', 2 ** 32, ENTROPY, FARMER_KEY, 'G', true]), /blockIndex must be an integer/],
  ['notify with a bad farmerKey', notify(['bad', 7, ENTROPY, 'zz'.repeat(32), 'G', true]), /farmerKey must be 64 hex digits/],
  ['notify with cleanJobs "yes"', notify(['bad', 7, ENTROPY, FARMER_KEY, 'G', 'yes']), /cleanJobs must be a boolean/],
  ['notify with an empty jobId', notify(['', 7, ENTROPY, FARMER_KEY, 'G', true]), /jobId must be a string/],
  ['notify with params not an array', '{"method":"mining.notify","params":{"0":"x"}}', /params that are not an array/],
  ['set_extranonce ["zz", 5]', '{"method":"mining.set_extranonce","params":["zz",5]}', /extranonce1 must be 0\.\.7 bytes of hex/],
  ['set_extranonce of 8 bytes', '{"method":"mining.set_extranonce","params":["0011223344556677",0]}', /extranonce1 must be 0\.\.7 bytes of hex/],
  ['set_extranonce with a wrong size', '{"method":"mining.set_extranonce","params":["aabb",5]}', /extranonce2Size must be 8 minus/],
  ['show_message of a number', '{"method":"client.show_message","params":[5]}', /text must be a string/],
  ['a response to an id never sent', '{"id":"x","result":true}', /an id this client never sends/],
  ['an answer to no request', '{"id":999,"result":true}', /an answer to no request in flight/],
]

describe('a miner facing a hostile pool', () => {
  it.each(BAD_LINES)('survives %s: reports it, ignores it, and mines the next job', async (_name, line, reason) => {
    pool = await FakePool.start((c, r) => login(c, r, (cc) => {
      cc.send(line)
      work(cc, 'good')
    }))
    miner = new Miner({ url: pool.url, user: PAYOUT, threads: 1 })
    const errors: string[] = []
    const jobs: JobNotice[] = []
    miner.client.on('protocolError', (e: string) => errors.push(e))
    miner.client.on('job', (j: JobNotice) => jobs.push(j))
    await miner.start()
    await waitFor(() => pool!.conns[0]!.submits().length >= 2)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(reason)
    expect(jobs.map((j) => j.jobId)).toEqual(['good'])
    const [, jobId, nonceHex] = pool.conns[0]!.submits()[0]!.params as string[]
    expect(jobId).toBe('good')
    expect(nonceHex!.startsWith('aabbcc')).toBe(true) // a bad set_extranonce left the range alone
    expect(pool.conns).toHaveLength(1)
  })

  it.each([
    ['not an array', true, /mining\.subscribe: the result is not an array/],
    ['null', null, /mining\.subscribe: the result is not an array/],
    ['an 8-byte extranonce1', ['s', '0011223344556677', 0], /extranonce1 must be 0\.\.7 bytes of hex/],
    ['a sessionId of a number', [5, 'aabbcc', 5], /sessionId must be a string/],
  ])('a subscribe result that is %s fails that attempt; the next connection mines', async (_name, result, reason) => {
    pool = await FakePool.start((c, r) => {
      if (c.n === 1 && r.method === 'mining.subscribe') return c.result(r.id, result)
      login(c, r, work)
    })
    miner = new Miner({ url: pool.url, user: PAYOUT, threads: 1, backoffMsMin: 10, backoffMsMax: 20 })
    const failed: Error[] = []
    miner.client.on('connectFailed', (err: Error) => failed.push(err))
    await miner.start()
    await waitFor(() => (pool!.conns[1]?.submits().length ?? 0) >= 1)
    expect(failed).toHaveLength(1)
    expect(failed[0]!.message).toMatch(reason)
    expect(pool.conns[0]!.closed).toBe(true)
  })

  it('closes a connection whose pool keeps breaking the protocol, and reconnects', async () => {
    pool = await FakePool.start((c, r) => login(c, r, (cc) => {
      if (cc.n === 1) for (let i = 0; i < 20; i++) cc.send('null')
    }))
    client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 10, backoffMsMax: 20 })
    const errors: string[] = []
    client.on('protocolError', (e: string) => errors.push(e))
    await client.connect()
    await waitFor(() => pool!.conns.length === 2 && client!.ready)
    expect(pool.conns[0]!.closed).toBe(true)
    expect(errors).toHaveLength(16) // PROTOCOL_ERRORS_PER_CONNECTION_MAX: the rest were never read
  })
})

describe('client.reconnect', () => {
  it('ignores a reconnect to port 70000 or 1.5 (reported) and still reconnects when the pool drops it', async () => {
    pool = await FakePool.start((c, r) => login(c, r, (cc) => {
      if (cc.n !== 1) return
      cc.notify('client.reconnect', ['127.0.0.1', 70000, 0])
      cc.notify('client.reconnect', ['127.0.0.1', 1.5, 0])
      cc.notify('client.reconnect', [{}, 3333, 0])
      cc.notify('client.reconnect', ['', 0, -1])
    }))
    client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 10, backoffMsMax: 20 })
    const errors: string[] = []
    client.on('protocolError', (e: string) => errors.push(e))
    await client.connect()
    await waitFor(() => errors.length === 4)
    expect(errors).toEqual([
      'client.reconnect: port must be an integer 1..65535',
      'client.reconnect: port must be an integer 1..65535',
      'client.reconnect: host must be a host name or address',
      'client.reconnect: waitSeconds must be a number >= 0',
    ])
    expect(pool.conns[0]!.closed).toBe(false)
    pool.conns[0]!.destroy()
    await waitFor(() => pool!.conns.length === 2 && client!.ready)
  })

  it('["", 0, wait] (the pool’s shutdown) reconnects to the same pool; a host and port move the client there', async () => {
    pool2 = await FakePool.start((c, r) => login(c, r))
    pool = await FakePool.start((c, r) => login(c, r, (cc) => {
      if (cc.n === 1) cc.notify('client.reconnect', ['', 0, 0])
      if (cc.n === 2) cc.notify('client.reconnect', ['[127.0.0.1]', pool2!.port, 0.01])
    }))
    client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 10, backoffMsMax: 20 })
    await client.connect()
    await waitFor(() => pool2!.conns.length === 1 && client!.ready)
    expect(pool.conns).toHaveLength(2)
    expect(pool.open()).toEqual([])
  })
})

describe('set_extranonce', () => {
  it('one received on a lost connection does not apply to the next session', async () => {
    const e1s = ['a1a1a1', 'c3c3c3']
    pool = await FakePool.start((c: FakeConn, r) => login(c, r, (cc) => {
      if (cc.n === 1) {
        cc.notify('mining.set_extranonce', ['b2b2b2', 5])
        cc.end()
      } else work(cc)
    }, e1s[c.n - 1]))
    client = new StratumClient({ url: pool.url, user: PAYOUT, backoffMsMin: 10, backoffMsMax: 20 })
    const jobs: JobNotice[] = []
    client.on('job', (j: JobNotice) => jobs.push(j))
    await client.connect()
    await waitFor(() => jobs.length === 1)
    expect(jobs[0]!.extranonce1Hex).toBe('c3c3c3')
  })

  it('one received on this connection applies from its next notify', async () => {
    pool = await FakePool.start((c, r) => login(c, r, (cc) => {
      work(cc, 'j1')
      cc.notify('mining.set_extranonce', ['b2b2', 6])
      cc.notify('mining.notify', notifyParams('j2', 7, false))
    }))
    client = new StratumClient({ url: pool.url, user: PAYOUT })
    const jobs: JobNotice[] = []
    client.on('job', (j: JobNotice) => jobs.push(j))
    await client.connect()
    await waitFor(() => jobs.length === 2)
    expect(jobs.map((j) => [j.extranonce1Hex, j.extranonce2Size])).toEqual([['aabbcc', 5], ['b2b2', 6]])
  })
})

describe('messages', () => {
  it('parses valid lines into typed messages', () => {
    expect(parseServerLine('{"jsonrpc":"2.0","id":3,"result":true}')).toEqual({ kind: 'result', id: 3, result: true })
    expect(parseServerLine('{"id":3,"error":{"code":23,"message":"Low difficulty share"}}')).toEqual({ kind: 'error', id: 3, code: 23, message: 'Low difficulty share' })
    expect(parseServerLine('{"method":"mining.set_difficulty","params":[1.5]}')).toEqual({ kind: 'difficulty', difficulty: 1.5 })
    expect(parseServerLine('{"method":"mining.set_extranonce","params":["AABB",6]}')).toEqual({ kind: 'extranonce', extranonce1Hex: 'aabb', extranonce2Size: 6 })
    expect(parseServerLine('{"method":"mining.set_extranonce","params":["",8]}')).toEqual({ kind: 'extranonce', extranonce1Hex: '', extranonce2Size: 8 })
    expect(parseServerLine('{"method":"client.reconnect","params":["pool.example",3334,5000]}')).toEqual({ kind: 'reconnect', host: 'pool.example', port: 3334, waitSeconds: 3600 })
    expect(parseServerLine('{"method":"client.reconnect"}')).toEqual({ kind: 'reconnect', host: undefined, port: undefined, waitSeconds: 0 })
    expect(parseServerLine('{"method":"client.show_message","params":["hi\\u001b[31m there"]}')).toEqual({ kind: 'message', text: 'hi [31m there' })
    expect(parseServerLine('{"method":"mining.something_new","params":[1]}')).toEqual({ kind: 'ignored' })
    const n = parseServerLine(notify(notifyParams('j', 4294967295)))
    expect(n).toMatchObject({ kind: 'notify', jobId: 'j', index: 4294967295, farmer: 'GFARMER', cleanJobs: true })
  })

  it('refuses bad responses, keeping the id of the request they answer', () => {
    expect(parseServerLine('{"id":4,"error":{"code":"x","message":"m"}}')).toEqual({ kind: 'invalid', id: 4, reason: 'an error that is not {code: integer, message: string}' })
    expect(parseServerLine('{"id":4}')).toEqual({ kind: 'invalid', id: 4, reason: 'a response with neither result nor error' })
    expect(parseServerLine('{"id":null,"error":{"code":-32700,"message":"Parse error"}}')).toEqual({ kind: 'invalid', reason: 'pool error -32700 without a request id' })
    expect(parseServerLine('{"method":5}')).toEqual({ kind: 'invalid', reason: 'a method that is not a string' })
  })

  it('checks subscribe results', () => {
    expect(parseSubscribeResult(['sid', 'AABBCC', 5])).toEqual({ sessionId: 'sid', extranonce1Hex: 'aabbcc', extranonce2Size: 5 })
    expect(parseSubscribeResult(['sid', 'aabbcc', 4])).toBe('mining.subscribe: extranonce2Size must be 8 minus the bytes of extranonce1')
    expect(parseSubscribeResult(['', 'aabbcc', 5])).toBe('mining.subscribe: sessionId must be a string of 1..128 characters')
  })
})
