// Regression (review finding 2): harvest decisions rested on one pail read. A
// lagging node's answer that (a) left the pail out while Block(N) was there got
// the harvest booked done with a derived reward and none sent — the real pail
// expired unharvested, the miners credited KALE never minted — and (b) showed the
// pail unworked although its work was confirmed got the harvest booked lost
// "pail was never worked". Here a proxy tells each lie once, in the first read
// of the block's pails after its works landed: both pails must be harvested for real.
import { describe, it, expect } from 'vitest'
import { xdr } from '@stellar/stellar-sdk'
import { activeFarmers, ensureFarmers } from '../../src/chain/farmers.js'
import { pailKey } from '../../src/chain/contract.js'
import { readEntries } from '../../src/chain/rpc.js'
import { balanceMismatches, devnetRig, opsOf, rowsJson, startPool, until } from './harness.js'
import { rpcProxy } from './rpc-proxy.js'

const FARMERS = 2

/** The Pail entry `b64` (LedgerEntryData XDR) as a node that has not seen its work yet would answer it. */
function unworked(b64: string): string {
  const data = xdr.LedgerEntryData.fromXDR(b64, 'base64')
  if (data.type !== 'contractData' || data.contractData.val.type !== 'scvMap') throw new Error('not a Pail entry')
  for (const e of data.contractData.val.map ?? []) {
    const k = e.key.type === 'scvSymbol' ? e.key.sym.toString() : ''
    // the decoded entry is ours to change: re-encoded below
    if (k === 'gap' || k === 'zeros') (e as { val: xdr.ScVal }).val = xdr.ScVal.scvVoid()
  }
  return data.toXDR('base64')
}

describe('harvest behind a lagging RPC node', () => {
  it('regression: a pail missing from one read, or read unworked after its work landed, is still harvested', async () => {
    const rig = await devnetRig({ ledgerMs: 200, seed: 'stale-pail-read' })
    const { net, store, master, cap } = rig
    let target: { missing: string; stale: string } | undefined
    let lied = false
    const proxy = await rpcProxy(net.rpcUrl, (method, params, result) => {
      if (method !== 'getLedgerEntries' || !target || lied) return
      const keys = params.keys as string[]
      if (!keys.includes(target.missing) || !keys.includes(target.stale)) return
      lied = true
      const entries = result.entries as Array<{ key: string; xdr: string }>
      result.entries = entries.filter((e) => e.key !== target!.missing).map((e) => (e.key === target!.stale ? { ...e, xdr: unworked(e.xdr) } : e))
    })
    const pool = startPool({ ...net, rpcUrl: proxy.url }, store, master, cap.logger)
    rig.pools.push(pool)
    try {
      await ensureFarmers(pool.chain.accounts, FARMERS)
      const [a, b] = [...store.farmers.keys()] as [string, string]
      pool.chain.scheduler.setFarmers(activeFarmers(await store.listFarmers(), master))
      pool.chain.scheduler.start()
      await until(() => pool.blocks.length > 0, 60_000)
      const n = pool.blocks[0]!.index
      // Armed once both works of block n landed: the next read of both pails is the harvest's.
      await until(() => opsOf(store, 'work', 'done').filter((o) => o.block === n).length === FARMERS, 120_000, () => rowsJson(store.ops.values()))
      target = { missing: pailKey(net.contractId, a, n).toXDR('base64'), stale: pailKey(net.contractId, b, n).toXDR('base64') }
      await until(() => lied && opsOf(store, 'harvest').filter((o) => o.block === n && (o.status === 'done' || o.status === 'lost')).length === FARMERS, 150_000, () => rowsJson(store.ops.values()))
      await pool.chain.scheduler.shutdown()
      const rows = await store.opsOfBlock(n)
      for (const pk of [a, b]) {
        const h = rows.find((o) => o.farmer === pk && o.op === 'harvest')
        expect(h?.status, rowsJson(rows)).toBe('done')
        expect(h!.amountStroops).toBeGreaterThan(0n)
        // minted by a harvest of ours, not derived from the block
        expect(pool.successes.get(`harvest/${pk}`), rowsJson(rows)).toBe(1)
      }
      // both pails really harvested: gone from the chain
      const { entries } = await readEntries(pool.chain.rpc, [pailKey(net.contractId, a, n), pailKey(net.contractId, b, n)])
      expect(entries.size).toBe(0)
      expect(await balanceMismatches(store, pool.chain, net)).toEqual([])
    } finally {
      await rig.close()
      await proxy.close()
    }
  }, 300_000)
})
