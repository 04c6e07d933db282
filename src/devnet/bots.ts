// --bots N: competing farmers inside the devnet so blocks look like mainnet.
// Each bot plants a random stake early in every block, works once at a random
// gap (2–60 ledgers) with a random zero count (5–10), and harvests its previous
// pail. Bots act on the model directly after each close (no XDR, no fees) and
// do not hash: their work takes the zero count as given and a random "hash".
import crypto from 'node:crypto'
import { Keypair, hash as sha256 } from '@stellar/stellar-sdk'
import { Scratch, STROOPS_PER_XLM } from './state.js'
import { plant, work, harvest, ContractError } from './contract.js'
import { makeRandom } from './faults.js'
import type { Chain } from './chain.js'

export const BOTS_MAX = 1000
export const BOT_GAP_MIN = 2
export const BOT_GAP_MAX = 60
export const BOT_ZEROS_MIN = 5
export const BOT_ZEROS_MAX = 10
const BOT_STAKE_MAX_STROOPS = 100_000_000n // 10 KALE
const BOT_KALE_STROOPS = 10_000n * 10_000_000n

interface Bot {
  address: string
  plantLedger: number
  workLedger: number
  index: number
  zeros: number
  worked: boolean
}

export class Bots {
  readonly bots: Bot[] = []
  private readonly random: () => number
  readonly stats = { plants: 0, works: 0, harvests: 0, failures: 0 }

  constructor(
    private readonly chain: Chain,
    count: number,
    seed: string | number | undefined,
  ) {
    if (!Number.isInteger(count) || count < 0 || count > BOTS_MAX) throw new RangeError(`bots must be an integer 0..${BOTS_MAX}`)
    this.random = makeRandom(`${String(seed ?? '')}:bots`)
    const st = chain.state
    for (let i = 0; i < count; i++) {
      const address = Keypair.fromRawEd25519Seed(sha256(Buffer.from(`kale-pool devnet bot ${i}`))).publicKey()
      if (!st.accounts.has(address)) st.accounts.set(address, { balance: 10_000n * STROOPS_PER_XLM, seq: BigInt(st.sequence) << 32n, subentries: 1, modified: st.sequence })
      if (!st.trustlines.has(address)) st.trustlines.set(address, { balance: BOT_KALE_STROOPS, limit: (1n << 63n) - 1n, modified: st.sequence })
      this.bots.push({ address, plantLedger: 0, workLedger: 0, index: -1, zeros: 0, worked: true })
    }
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1))
  }

  /** Runs the bots' actions for the ledger that just closed. */
  afterClose(): void {
    const st = this.chain.state
    const ledger = st.sequence
    const fb = st.instance.farmBlock
    if (!fb) return
    for (const bot of this.bots) {
      const cur = st.instance.farmIndex
      const blockAgeSeconds = st.closeTime - Number(st.instance.farmBlock!.timestamp)
      if (bot.worked && bot.index >= 0 && bot.index < cur) this.attempt(ledger, (s) => this.harvestPail(s, bot))
      if (bot.index !== cur) {
        if (this.random() < 0.5) this.attempt(ledger, (s) => this.plantNow(s, bot, ledger))
      } else if (blockAgeSeconds >= 300) {
        // someone has to open the next block: a few bots try each ledger
        if (this.random() < 0.2) this.attempt(ledger, (s) => this.plantNow(s, bot, ledger))
      } else if (!bot.worked && ledger >= bot.workLedger) {
        bot.worked = true
        this.attempt(ledger, (s) => {
          work(s, bot.address, crypto.randomBytes(32), 0n, bot.zeros)
          this.stats.works++
        })
      }
    }
  }

  private attempt(ledger: number, f: (s: Scratch) => void): void {
    const st = this.chain.state
    const s = new Scratch(st, ledger, BigInt(st.closeTime), this.chain.ctx.tempTtlLedgers)
    try {
      f(s)
      s.commit()
    } catch (err) {
      if (!(err instanceof ContractError)) throw err
      this.stats.failures++
    }
  }

  private plantNow(s: Scratch, bot: Bot, ledger: number): void {
    const stake = BigInt(Math.floor(this.random() * Number(BOT_STAKE_MAX_STROOPS)))
    plant(s, bot.address, stake)
    bot.index = s.instance.farmIndex
    bot.plantLedger = ledger
    bot.workLedger = ledger + this.int(BOT_GAP_MIN, BOT_GAP_MAX)
    bot.zeros = this.int(BOT_ZEROS_MIN, BOT_ZEROS_MAX)
    bot.worked = false
    this.stats.plants++
  }

  private harvestPail(s: Scratch, bot: Bot): void {
    bot.worked = false
    harvest(s, bot.address, bot.index)
    this.stats.harvests++
  }
}
