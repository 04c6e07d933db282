// getLedgerEntries with its caches: every answer equals a fresh encoding of the
// current state, after in-place and replacing writes of every entry kind.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { Address, Keypair, xdr } from '@stellar/stellar-sdk'
import { startDevnet, type Devnet } from '../../src/devnet/index.js'
import { Scratch, STROOPS_PER_XLM, TRUSTLINE_LIMIT_MAX } from '../../src/devnet/state.js'
import { plant } from '../../src/devnet/contract.js'

let net: Devnet
beforeAll(async () => {
  net = await startDevnet({ port: 0, ledgerMs: 600_000 })
})
afterAll(() => net.close())

const b = () => net.chain.ctx.b
const keyB64 = (id: string) => b().ledgerKey(id).toXdr('base64')
const read = (ids: string[]) => (net.chain.ledgerEntries(ids.map(keyB64)) as { entries: Array<{ key: string; xdr: string; lastModifiedLedgerSeq: number; liveUntilLedgerSeq?: number }> }).entries

/** The entry as the builder encodes it now, bypassing every cache. */
function fresh(id: string): string | null {
  const st = net.chain.state
  const [kind, a, c] = id.split(':')
  if (kind === 'a') return st.accounts.has(a!) ? b().accountEntry(a!, st.accounts.get(a!)!).toXdr('base64') : null
  if (kind === 't') return st.trustlines.has(a!) ? b().trustlineEntry(a!, st.trustlines.get(a!)!).toXdr('base64') : null
  if (kind === 'i') return b().instanceEntry(st.instance, net.chain.rootAddress).toXdr('base64')
  if (kind === 'b') {
    const t = st.blocks.get(Number(a))
    return t && t.liveUntil >= st.sequence ? b().blockEntry(Number(a), t.value).toXdr('base64') : null
  }
  const t = st.pails.get(`${a}:${c}`)
  return t && t.liveUntil >= st.sequence ? b().pailEntry(a!, Number(c), t.value).toXdr('base64') : null
}

function expectFresh(ids: string[]): void {
  const got = new Map(read(ids).map((e) => [e.key, e.xdr]))
  for (const id of ids) expect(got.get(keyB64(id)) ?? null, id).toBe(fresh(id))
}

describe('getLedgerEntries caches', () => {
  const g = Keypair.random().publicKey()
  const ids = () => {
    const i = net.chain.state.instance.farmIndex
    return [`a:${g}`, `t:${g}`, 'i', `b:${i}`, `p:${g}:${i}`]
  }

  it('answer the current state after in-place writes, replacing writes, a plant and a rollover', () => {
    const st = net.chain.state
    st.accounts.set(g, { balance: 100n * STROOPS_PER_XLM, seq: 5n, subentries: 1, modified: st.sequence })
    st.trustlines.set(g, { balance: 7n, limit: TRUSTLINE_LIMIT_MAX, modified: st.sequence })
    expectFresh(ids())
    expectFresh(ids()) // cache hits
    // in-place, as a transaction's fee and sequence are taken
    // one field at a time, so each must be part of what the cache compares
    const acc = st.accounts.get(g)!
    for (const write of [() => (acc.balance -= 100n), () => (acc.seq += 1n), () => (acc.subentries += 1)]) {
      write()
      expectFresh(ids())
    }
    st.trustlines.set(g, { ...st.trustlines.get(g)!, balance: 9n })
    expectFresh(ids())
    st.trustlines.set(g, { ...st.trustlines.get(g)!, limit: 1_000n })
    expectFresh(ids())
    // plant: instance, block and pail change
    const s = new Scratch(st, st.sequence + 1, BigInt(st.closeTime + 5), 100)
    plant(s, g, 3n)
    s.commit()
    expectFresh(ids())
    // the block's running totals and entropy change in place
    const blk = st.blocks.get(st.instance.farmIndex)!.value
    blk.normalizedTotal += 11n
    expectFresh(ids())
    blk.entropy = new Uint8Array(32).fill(4)
    expectFresh(ids())
    st.instance.farmBlock!.maxGap = 17
    expectFresh(ids())
    st.instance.paused = true
    expectFresh(ids())
    st.instance.paused = false
    // pail replaced (as work does)
    const pk = `${g}:${st.instance.farmIndex}`
    st.pails.set(pk, { ...st.pails.get(pk)!, value: { ...st.pails.get(pk)!.value, gap: 2 } })
    expectFresh(ids())
    st.pails.set(pk, { ...st.pails.get(pk)!, value: { ...st.pails.get(pk)!.value, zeros: 8 } })
    expectFresh(ids())
  })

  it('drop expired temporary entries and accounts that are gone; skip keys of other contracts; keep repeats', () => {
    const st = net.chain.state
    const i = st.instance.farmIndex
    const pail = st.pails.get(`${g}:${i}`)!
    pail.liveUntil = st.sequence - 1
    expect(read([`p:${g}:${i}`])).toEqual([])
    pail.liveUntil = st.sequence + 10
    expect(read([`p:${g}:${i}`, `p:${g}:${i}`])).toHaveLength(2)
    const other = xdr.LedgerKey.contractData(
      new xdr.LedgerKeyContractData({ contract: new Address(net.info.sacId).toScAddress(), key: xdr.ScVal.scvLedgerKeyContractInstance(), durability: xdr.ContractDataDurability.persistent }),
    ).toXdr('base64')
    expect((net.chain.ledgerEntries([other]) as { entries: unknown[] }).entries).toEqual([])
    st.accounts.delete(g)
    expect(read([`a:${g}`])).toEqual([])
  })

  it('refuse a malformed key every time (never cached)', () => {
    for (let n = 0; n < 2; n++) expect(() => net.chain.ledgerEntries(['AAAA'])).toThrow()
  })
})
