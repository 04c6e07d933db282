// Work distribution, pure: which planted farmer each session hashes for.
//
// A pail's zeros term is clamped at the block's max_zeros, and expected zeros
// grow like log16(hashes) — concave — so for farmers that still need zeros an
// even split of hash power maximises the pool's total. Farmers whose best hash
// already reached max_zeros (or whose work was submitted) get nobody while others
// still need work. Sessions stay where they are when their farmer's load is within
// `slackRatio` of the fair share, so a rebalance moves as few miners as possible.

export interface FarmerNeed {
  farmer: string
  /** Zeros of the best share so far (0 = none). */
  bestZeros: number
  /** Work already submitted for this block: never assign. */
  worked: boolean
}

export interface SessionLoad {
  id: number
  /** Measured hashes/s (`creditedHashrate`): never the difficulty the session claims. */
  hashrate: number
  /** Farmer now assigned, if any. */
  farmer: string | undefined
}

export interface DistributionInput {
  farmers: readonly FarmerNeed[]
  sessions: readonly SessionLoad[]
  /** Block(N).max_zeros: more earns nothing. */
  zerosTarget: number
  /** Keep a session on its farmer while that farmer's load ≤ fair share × this. */
  slackRatio: number
}

/** Farmers that can still gain: not worked and below the zeros target; if none, every unworked farmer. */
export function eligibleFarmers(farmers: readonly FarmerNeed[], zerosTarget: number): string[] {
  const open = farmers.filter((f) => !f.worked)
  const needy = open.filter((f) => f.bestZeros < zerosTarget)
  return (needy.length > 0 ? needy : open).map((f) => f.farmer)
}

/** Session id → farmer (sessions absent from the map get no work: nothing is open). */
export function distribute(input: DistributionInput): Map<number, string> {
  const out = new Map<number, string>()
  const eligible = eligibleFarmers(input.farmers, input.zerosTarget)
  if (eligible.length === 0) return out
  const load = new Map<string, number>(eligible.map((f) => [f, 0]))
  const total = input.sessions.reduce((a, s) => a + Math.max(s.hashrate, 0), 0)
  const fair = total / eligible.length
  // Biggest first (longest-processing-time greedy): the small ones fill the gaps.
  const order = [...input.sessions].sort((a, b) => b.hashrate - a.hashrate || a.id - b.id)
  const moving: SessionLoad[] = []
  for (const s of order) {
    const f = s.farmer
    const l = f === undefined ? undefined : load.get(f)
    if (f !== undefined && l !== undefined && (l === 0 || l + s.hashrate <= fair * input.slackRatio)) {
      load.set(f, l + s.hashrate)
      out.set(s.id, f)
    } else moving.push(s)
  }
  for (const s of moving) {
    let best = eligible[0]!
    let bestLoad = Infinity
    for (const f of eligible) {
      const l = load.get(f)!
      if (l < bestLoad) {
        best = f
        bestLoad = l
      }
    }
    load.set(best, bestLoad + s.hashrate)
    out.set(s.id, best)
  }
  return out
}

/**
 * Difficulty a session had credited, decayed with time constant `windowMs`: its
 * measured work, for weighting it in the distribution. Only credited shares count —
 * a difficulty set by `d=` or a suggest_difficulty floor proves no hashes, and
 * weighting by it let one idle connection claiming d=2^40 take a farmer to itself.
 */
export interface CreditedRate {
  /** ms the session started (hashing time before its first share counts too) */
  sinceMs: number
  /** ms of the last credited share */
  atMs: number
  shares: number
  /** Σ credited difficulty, each decayed by e^(−(atMs − its time) / windowMs) */
  sum: number
}

export function creditedStart(nowMs: number): CreditedRate {
  return { sinceMs: nowMs, atMs: nowMs, shares: 0, sum: 0 }
}

export function creditedRecord(r: CreditedRate, difficulty: number, nowMs: number, windowMs: number): CreditedRate {
  const decay = Math.exp(-Math.max(nowMs - r.atMs, 0) / windowMs)
  return { sinceMs: r.sinceMs, atMs: nowMs, shares: r.shares + 1, sum: r.sum * decay + difficulty }
}

/**
 * Hashes/s: the decayed sum over the decayed time it covers, windowMs·(1 − e^(−age/windowMs))
 * (about the age while that is short). The age is at least `ageMinMs` so one lucky
 * share just after login is not a huge rate. Before any credited share, `prior`.
 */
export function creditedHashrate(r: CreditedRate, nowMs: number, windowMs: number, ageMinMs: number, prior: number): number {
  if (r.shares === 0) return prior
  const sum = r.sum * Math.exp(-Math.max(nowMs - r.atMs, 0) / windowMs)
  const ageMs = Math.max(nowMs - r.sinceMs, ageMinMs)
  return sum / ((windowMs * (1 - Math.exp(-ageMs / windowMs))) / 1000)
}

/** Expected leading zero nibbles after `hashes` hashes (for reports and tests): log16. */
export function expectedZeros(hashes: number): number {
  return hashes <= 1 ? 0 : Math.log(hashes) / Math.log(16)
}
