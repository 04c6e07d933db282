// The KALE farm contract (kale-sc contract_farm.rs) as a model over a Scratch:
// plant, work, harvest with the contract's check order, error numbers, block
// rollover, entropy and normalization math (KALE.md). Failures throw
// ContractError(n) — the same `Error(Contract, #n)` the host reports. The
// SAC mint/burn move KALE trustline balances; their failures use the SAC's own
// numbers (#10 balance, #13 trustline missing), as the network does.
import { keccak256 } from '../kale/keccak.js'
import { preimage } from '../kale/preimage.js'
import { zeros as countZeros } from '../kale/difficulty.js'
import { normalizations, blockReward, fmf } from '../kale/reward.js'
import { BLOCK_INTERVAL_SECONDS } from '../kale/reward.js'
import { Scratch, newFarmBlock, I128_MAX, I128_MIN, U32_MAX, type FarmBlock, type Pail } from './state.js'

export const ContractErrors = {
  FarmBlockMissing: 3,
  FarmPaused: 4,
  PlantAmountTooLow: 6,
  ZeroCountTooLow: 7,
  PailExists: 8,
  PailMissing: 9,
  WorkMissing: 10,
  BlockMissing: 11,
  BlockInvalid: 12,
  HashInvalid: 13,
  HarvestNotReady: 14,
  GapCountTooLow: 15,
} as const

/** Stellar Asset Contract error numbers used by mint/burn. */
export const SacErrors = { BalanceError: 10, TrustlineMissingError: 13 } as const

export class ContractError extends Error {
  constructor(readonly code: number) {
    super(`Error(Contract, #${code})`)
    this.name = 'ContractError'
  }
}

const fail = (code: number): never => {
  throw new ContractError(code)
}

/** The contract's new_block: a Block(i) seeded from FarmBlock's running stats. */
export function blockFromFarm(time: bigint, fb: FarmBlock): FarmBlock {
  return {
    timestamp: time,
    minGap: fb.minGap === U32_MAX ? 0 : fb.minGap,
    minStake: fb.minStake === I128_MAX ? 0n : fb.minStake,
    minZeros: fb.minZeros === U32_MAX ? 0 : fb.minZeros,
    maxGap: fb.maxGap === 0 ? 0 : fb.maxGap,
    maxStake: fb.maxStake === I128_MIN ? 0n : fb.maxStake,
    maxZeros: fb.maxZeros === 0 ? 0 : fb.maxZeros,
    entropy: fb.entropy.slice(),
    stakedTotal: 0n,
    normalizedTotal: 0n,
  }
}

function burn(s: Scratch, farmer: string, amount: bigint): void {
  const t = s.getTrust(farmer) ?? fail(SacErrors.TrustlineMissingError)
  if (t.balance < amount) fail(SacErrors.BalanceError)
  s.setTrust(farmer, { ...t, balance: t.balance - amount })
}

function mint(s: Scratch, farmer: string, amount: bigint): void {
  const t = s.getTrust(farmer) ?? fail(SacErrors.TrustlineMissingError)
  if (t.limit - t.balance < amount) fail(SacErrors.BalanceError)
  s.setTrust(farmer, { ...t, balance: t.balance + amount })
}

/** plant(farmer, amount). The farmer's authorization is checked by the caller. */
export function plant(s: Scratch, farmer: string, amount: bigint): void {
  if (amount < 0n) fail(ContractErrors.PlantAmountTooLow)
  const inst = s.readInstance()
  if (inst.paused) fail(ContractErrors.FarmPaused)
  let farmBlock = inst.farmBlock ?? fail(ContractErrors.FarmBlockMissing)
  let index = inst.farmIndex
  let block: FarmBlock
  if (s.time >= farmBlock.timestamp + BigInt(BLOCK_INTERVAL_SECONDS)) {
    block = blockFromFarm(s.time, farmBlock)
    s.getBlock(index) // the contract reads Block(index) here for its read budget
    farmBlock = newFarmBlock(s.time)
    index += 1
  } else {
    const existing = s.getBlock(index)
    if (existing) block = existing
    else {
      if (index > 0) index += 1 // Block(index) evicted: the contract moves on
      block = blockFromFarm(s.time, farmBlock)
    }
  }
  if (s.getPail(farmer, index)) fail(ContractErrors.PailExists)
  block.stakedTotal += amount
  if (amount > 0n) burn(s, farmer, amount)
  if (amount > farmBlock.maxStake) farmBlock.maxStake = amount
  if (amount < farmBlock.minStake) farmBlock.minStake = amount
  s.setPail(farmer, index, { sequence: s.ledger, gap: null, stake: amount, zeros: null })
  s.setBlock(index, block)
  inst.farmIndex = index
  inst.farmBlock = farmBlock
  s.writeInstance()
}

function stats(b: FarmBlock) {
  if (b.maxGap < b.minGap || b.maxStake < b.minStake || b.maxZeros < b.minZeros) fail(ContractErrors.BlockInvalid)
  return {
    minGap: BigInt(b.minGap),
    maxGap: BigInt(b.maxGap),
    minStake: b.minStake,
    maxStake: b.maxStake,
    minZeros: BigInt(b.minZeros),
    maxZeros: BigInt(b.maxZeros),
  }
}

function normalizedOf(b: FarmBlock, gap: number, stake: bigint, zeros: number): bigint {
  const [g, st, z] = normalizations(stats(b), { gap: BigInt(gap), stake, zeros: BigInt(zeros) })
  return g + st + z
}

/**
 * work(farmer, hash, nonce) → gap. `botZeros` (devnet bots only) skips the hash
 * recomputation and takes the zero count as given: bots do not hash.
 */
export function work(s: Scratch, farmer: string, hash: Uint8Array, nonce: bigint, botZeros?: number): number {
  const inst = s.readInstance()
  const index = inst.farmIndex
  const farmBlock = inst.farmBlock ?? fail(ContractErrors.FarmBlockMissing)
  const block = s.getBlock(index) ?? fail(ContractErrors.BlockMissing)
  const pail: Pail = s.getPail(farmer, index) ?? fail(ContractErrors.PailMissing)
  const generated = botZeros === undefined ? keccak256(preimage(index, nonce, block.entropy, farmer)) : hash
  const gap = s.ledger - pail.sequence
  if (gap === 0) fail(ContractErrors.GapCountTooLow)
  if (hash.length !== 32 || !equalBytes(hash, generated)) fail(ContractErrors.HashInvalid)
  const zeros = botZeros ?? countZeros(hash)
  block.normalizedTotal += normalizedOf(block, gap, pail.stake, zeros)
  if (pail.zeros !== null) {
    if (zeros <= pail.zeros) fail(ContractErrors.ZeroCountTooLow)
    // the contract subtracts the previous contribution computed with the NEW gap
    block.normalizedTotal -= normalizedOf(block, gap, pail.stake, pail.zeros)
  } else {
    block.stakedTotal -= pail.stake
  }
  farmBlock.entropy = generated
  if (gap > farmBlock.maxGap) farmBlock.maxGap = gap
  if (gap < farmBlock.minGap) farmBlock.minGap = gap
  if (zeros > farmBlock.maxZeros) farmBlock.maxZeros = zeros
  if (zeros < farmBlock.minZeros) farmBlock.minZeros = zeros
  s.setPail(farmer, index, { ...pail, gap, zeros })
  s.setBlock(index, block)
  s.writeInstance()
  return gap
}

/** harvest(farmer, index) → reward (stake excluded); mints reward + stake. */
export function harvest(s: Scratch, farmer: string, index: number): bigint {
  const inst = s.readInstance()
  const block = s.getBlock(index) ?? fail(ContractErrors.BlockMissing)
  const pail = s.getPail(farmer, index) ?? fail(ContractErrors.PailMissing)
  if (index >= inst.farmIndex) fail(ContractErrors.HarvestNotReady)
  if (pail.gap === null || pail.zeros === null) fail(ContractErrors.WorkMissing)
  const n = normalizedOf(block, pail.gap!, pail.stake, pail.zeros!)
  const total = block.normalizedTotal > 1n ? block.normalizedTotal : 1n
  const reward = fmf(n, blockReward(index) + block.stakedTotal, total)
  if (reward + pail.stake > 0n) mint(s, farmer, reward + pail.stake)
  s.removePail(farmer, index)
  return reward
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
