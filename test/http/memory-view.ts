// A PoolView over plain in-memory data, to test the HTTP layer on its own
// (the ledger-backed view has its own tests in pool-view.test.ts).
import type { PoolView, Health, PoolSummary, BlockRow, MinerDetail, FarmerRow, PayoutRunResult } from '../../src/http/view.js'

export const MINER = 'GAYZH5U72H2YQEFB7SETU23UN4D4KROAZX54Q4EWMIDY3XIQZCXKOIVI'

export class MemoryView implements PoolView {
  healthValue: Health = {
    block: { ok: true, index: 7, ageSeconds: 12 },
    rpc: { ok: true, latencyMs: 3 },
    database: { ok: true, bufferedRows: 0 },
    sessions: { ok: true, connected: 2, authorized: 2 },
  }
  blocksValue: BlockRow[] = Array.from({ length: 250 }, (_, i) => ({
    index: 250 - i,
    openedAt: 1_700_000_000 + (250 - i) * 300,
    planted: 4,
    worked: 4,
    harvested: i === 0 ? 0 : 4,
    bestZeros: 9,
    shares: 100,
    difficulty: 6_553_600,
    rewardStroops: 25_050_000_000n + BigInt(i),
    feeStroops: 250_500_000n,
  }))
  minerValue: MinerDetail = {
    address: MINER,
    hashrate10m: 1234.5,
    workers: [{ name: 'rig1', hashrate10m: 1234.5, lastShareAt: 1_700_000_000_000 }],
    blocks: [{ index: 250, shares: 10, difficulty: 655360, bestZeros: 8, creditStroops: 9_007_199_254_740_993n }],
    balanceStroops: 9_007_199_254_740_993n,
    paidStroops: 0n,
    payouts: [],
  }
  farmersValue: FarmerRow[] = [{ publicKey: MINER, status: 'active', stakePercent: 0, lastBlockWorked: 250, zeros: 9 }]
  calls: string[] = []
  /** calls started and not yet settled, and the most at once since the last reset */
  inFlight = 0
  inFlightPeak = 0
  delayMs = 0
  throwOn: string | null = null
  error: unknown = new Error('boom postgres://pool:hunter2@db/x')

  private async step(name: string): Promise<void> {
    this.calls.push(name)
    this.inFlight++
    this.inFlightPeak = Math.max(this.inFlightPeak, this.inFlight)
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs))
      if (this.throwOn === name) throw this.error
    } finally {
      this.inFlight--
    }
  }

  /** Resolves once no call is running (a timed-out call goes on after its answer). */
  async settled(): Promise<void> {
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 10))
  }
  async health(): Promise<Health> {
    await this.step('health')
    return this.healthValue
  }
  async pool(): Promise<PoolSummary> {
    await this.step('pool')
    return {
      hashrate10m: 1234.5,
      sessions: { connected: 2, authorized: 2 },
      miners: 1,
      workers: 1,
      farmers: { active: 1, total: 1 },
      block: { index: 250, openedAt: 1_700_075_000, ageSeconds: 12 },
      feePercent: 1,
      scheme: 'prop',
      payoutThresholdStroops: 1_000_000_000n,
      paidStroops: 123n,
    }
  }
  async blocks(limit: number, before?: number): Promise<BlockRow[]> {
    await this.step(`blocks ${limit} ${before}`)
    return this.blocksValue.filter((b) => before === undefined || b.index < before).slice(0, limit)
  }
  async miner(address: string, blocksLimit: number): Promise<MinerDetail | null> {
    await this.step(`miner ${address} ${blocksLimit}`)
    return address === MINER ? this.minerValue : null
  }
  async farmers(limit: number): Promise<FarmerRow[]> {
    await this.step(`farmers ${limit}`)
    return this.farmersValue.slice(0, limit)
  }
  async addFarmers(count: number, stakePercent: number): Promise<{ publicKeys: string[] }> {
    await this.step(`addFarmers ${count} ${stakePercent}`)
    return { publicKeys: Array.from({ length: count }, () => MINER) }
  }
  async disableFarmer(publicKey: string): Promise<boolean> {
    await this.step(`disableFarmer ${publicKey}`)
    return publicKey === MINER
  }
  async runPayouts(): Promise<PayoutRunResult> {
    await this.step('runPayouts')
    return { payouts: 1, paidStroops: 5n, skipped: 0 }
  }
}
