import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BUILT_IN, parseDevnetInfo, resolveNetwork, splitAsset, devnetInfoUrl } from '../../src/chain/network.js'
import { ErrorCode, PoolError } from '../../src/errors.js'

const GOOD = {
  rpcUrl: 'http://127.0.0.1:1/',
  networkPassphrase: 'Standalone Network ; February 2017',
  contractId: BUILT_IN.testnet.contractId,
  asset: BUILT_IN.testnet.asset,
  sacId: BUILT_IN.testnet.sacId,
  friendbotUrl: 'http://127.0.0.1:1/friendbot',
  ledgerMs: 100,
}

let body: string = JSON.stringify(GOOD)
let status = 200
let server: Server
let base = ''
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url !== '/devnet') { res.writeHead(404); res.end(); return }
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`
})
afterAll(async () => { await new Promise<void>((r) => server.close(() => r())) })

describe('network resolution', () => {
  it('has the KALE.md ids built in for testnet and mainnet', async () => {
    const t = await resolveNetwork({ kaleNetwork: 'testnet', rpcUrl: 'https://soroban-testnet.stellar.org', timeoutMs: 100 })
    expect(t.contractId).toBe('CDSWUUXGPWDZG76ISK6SUCVPZJMD5YUV66J2FXFXFGDX25XKZJIEITAO')
    expect(t.networkPassphrase).toBe('Test SDF Network ; September 2015')
    const m = await resolveNetwork({ kaleNetwork: 'mainnet', rpcUrl: 'https://rpc.example', timeoutMs: 100 })
    expect(m.contractId).toBe('CDL74RF5BLYR2YBLCCI7F5FB6TPSCLKEJUBSD2RSVWZ4YHF3VMFAIGWA')
    expect(m.sacId).toBe('CB23WRDQWGSP6YPMY4UV5C4OW5CBTXKYN3XEATG7KJEZCXMJBYEHOUOV')
    expect(m.friendbotUrl).toBeUndefined()
    expect(m.networkPassphrase).toBe('Public Global Stellar Network ; September 2015')
  })
  it('reads a devnet from GET /devnet beside its RPC URL', async () => {
    body = JSON.stringify(GOOD)
    status = 200
    expect(devnetInfoUrl(base)).toMatch(/\/devnet$/)
    const n = await resolveNetwork({ kaleNetwork: 'devnet', rpcUrl: base, timeoutMs: 1000 })
    expect(n).toMatchObject({ name: 'devnet', contractId: GOOD.contractId, ledgerMs: 100, rpcUrl: base })
  })
  it('rejects a devnet that answers badly', async () => {
    const bad = async (b: string, s = 200): Promise<PoolError> => {
      body = b
      status = s
      try {
        await resolveNetwork({ kaleNetwork: 'devnet', rpcUrl: base, timeoutMs: 1000 })
      } catch (e) {
        return e as PoolError
      }
      throw new Error('expected failure')
    }
    expect((await bad('not json')).code).toBe(ErrorCode.RPC_RESPONSE_INVALID)
    expect((await bad('{}', 503)).code).toBe(ErrorCode.RPC_HTTP)
    expect((await bad(JSON.stringify({ ...GOOD, contractId: 'GABC' }))).message).toMatch(/contractId/)
    expect((await bad(JSON.stringify({ ...GOOD, asset: 'KALE' }))).message).toMatch(/asset/)
    expect((await bad(JSON.stringify({ ...GOOD, ledgerMs: -1 }))).message).toMatch(/ledgerMs/)
    expect((await bad(JSON.stringify([1, 2]))).message).toMatch(/missing/)
    expect((await bad(JSON.stringify({ ...GOOD, contractId: 'x'.repeat(100_000) }))).code).toBe(ErrorCode.RPC_RESPONSE_INVALID)
  })
  it('reports an unreachable devnet as RPC_NETWORK and a missing URL as config', async () => {
    await expect(resolveNetwork({ kaleNetwork: 'devnet', rpcUrl: 'http://127.0.0.1:1/', timeoutMs: 500 })).rejects.toMatchObject({ code: ErrorCode.RPC_NETWORK })
    await expect(resolveNetwork({ kaleNetwork: 'testnet', rpcUrl: undefined, timeoutMs: 500 })).rejects.toMatchObject({ code: ErrorCode.CONFIG_INVALID })
  })
  it('splits assets and refuses malformed ones', () => {
    expect(splitAsset(BUILT_IN.mainnet.asset)).toEqual(['KALE', 'GBDVX4VELCDSQ54KQJYTNHXAHFLBCA77ZY2USQBM4CSHTTV7DME7KALE'])
    expect(() => splitAsset('KALE:GBAD')).toThrow()
    expect(() => splitAsset('TOOLONGASSETCODE:' + BUILT_IN.mainnet.asset.split(':')[1])).toThrow()
    expect(() => parseDevnetInfo(null, base)).toThrow(/not an object/)
  })
})
