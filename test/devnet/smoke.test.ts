import { describe, it, expect, afterAll } from 'vitest'
import { devnet, farmer, invoke, call, addr, i128 } from './helpers.js'

describe('devnet smoke', async () => {
  const { net, server } = await devnet()
  afterAll(() => net.close())
  it('serves network, latest ledger and friendbot', async () => {
    const n = await server.getNetwork()
    expect(n.passphrase).toBe(net.info.networkPassphrase)
    const l = await server.getLatestLedger()
    expect(l.sequence).toBeGreaterThan(0)
    const kp = await farmer(server, net)
    const acc = await server.getAccount(kp.publicKey())
    expect(BigInt(acc.sequenceNumber())).toBeGreaterThan(0n)
    const r = await invoke(server, net, kp, call(net, 'plant', addr(kp.publicKey()), i128(0n)))
    expect(r.error).toBeUndefined()
    expect(r.res?.status).toBe('SUCCESS')
  })
})
