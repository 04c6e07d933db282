// The contract model against the independent reward vectors (kale-reward.json):
// pails that each worked once in block 95825 harvest exactly the listed rewards.
import { describe, it, expect } from 'vitest'
import fs from 'node:fs'
import { Keypair } from '@stellar/stellar-sdk'
import { genesisState } from '../../src/devnet/chain.js'
import { Scratch, newFarmBlock, pailKey } from '../../src/devnet/state.js'
import { work, harvest, plant, ContractError } from '../../src/devnet/contract.js'
import { serialize, deserialize } from '../../src/devnet/persist.js'

const vec = JSON.parse(fs.readFileSync(new URL('../fixtures/kale-reward.json', import.meta.url), 'utf8')) as {
  index: number
  blockStats: Record<string, string>
  unworkedStakes: string
  pails: Array<{ stake: string; gap: number; zeros: number; reward: string }>
}

describe('devnet contract model', () => {
  it('harvest rewards equal the reward vectors', () => {
    const st = genesisState(1_000_000, Keypair.random().publicKey(), Keypair.random().publicKey())
    const ledger = 5_000
    const n = vec.index
    const bs = vec.blockStats
    st.sequence = ledger
    st.instance.farmIndex = n
    st.instance.farmBlock = newFarmBlock(BigInt(st.closeTime))
    st.blocks.set(n, {
      value: {
        ...newFarmBlock(BigInt(st.closeTime)),
        minGap: Number(bs.min_gap), maxGap: Number(bs.max_gap), minStake: BigInt(bs.min_stake!), maxStake: BigInt(bs.max_stake!),
        minZeros: Number(bs.min_zeros), maxZeros: Number(bs.max_zeros), stakedTotal: BigInt(vec.unworkedStakes), normalizedTotal: 0n,
      },
      liveUntil: 1e9,
      modified: 1,
    })
    const farmers = vec.pails.map(() => Keypair.random().publicKey())
    vec.pails.forEach((p, i) => {
      const f = farmers[i]!
      st.pails.set(pailKey(f, n), { value: { sequence: ledger - p.gap, gap: null, stake: BigInt(p.stake), zeros: null }, liveUntil: 1e9, modified: 1 })
      st.blocks.get(n)!.value.stakedTotal += BigInt(p.stake)
      st.trustlines.set(f, { balance: 0n, limit: 1n << 62n, modified: 1 })
      const s = new Scratch(st, ledger, BigInt(st.closeTime), 100)
      expect(work(s, f, new Uint8Array(32), 0n, p.zeros)).toBe(p.gap)
      s.commit()
    })
    st.instance.farmIndex = n + 1
    vec.pails.forEach((p, i) => {
      const s = new Scratch(st, ledger + 1, BigInt(st.closeTime), 100)
      expect(harvest(s, farmers[i]!, n)).toBe(BigInt(p.reward))
      s.commit()
      expect(st.trustlines.get(farmers[i]!)!.balance).toBe(BigInt(p.reward) + BigInt(p.stake))
    })
  })

  it('an overlay that throws leaves the state untouched', () => {
    const st = genesisState(1_000_000, Keypair.random().publicKey(), Keypair.random().publicKey())
    const f = Keypair.random().publicKey()
    const s = new Scratch(st, 2, BigInt(st.closeTime + 5), 100)
    expect(() => plant(s, f, 5n)).toThrow(ContractError) // no trustline: the burn fails after the rollover was staged
    expect(st.instance.farmIndex).toBe(0)
    expect(st.blocks.size).toBe(0)
    expect(st.pails.size).toBe(0)
  })

  it('state survives a serialize/deserialize round trip (bigint, bytes, maps)', () => {
    const st = genesisState(1_000_000, Keypair.random().publicKey(), Keypair.random().publicKey())
    st.instance.farmBlock!.entropy = new Uint8Array([1, 2, 3])
    const back = deserialize(serialize({ passphrase: 'p', state: st })).state
    expect(back).toEqual(st)
  })
})
