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

/**
 * The farmer for each session, in the order of `input.sessions` (undefined: no
 * work, nothing is open). An array, not a map by session id: at a new block every
 * session is placed, and with 10 000 of them a map (and the caller's map back from
 * id to session) cost more than the placing.
 */
export function distribute(input: DistributionInput): (string | undefined)[] {
  const sessions = input.sessions
  const out = new Array<string | undefined>(sessions.length).fill(undefined)
  const eligible = eligibleFarmers(input.farmers, input.zerosTarget)
  if (eligible.length === 0) return out
  const slotOf = new Map<string, number>(eligible.map((f, k) => [f, k]))
  const load = new Float64Array(eligible.length)
  const total = sessions.reduce((a, s) => a + Math.max(s.hashrate, 0), 0)
  const fair = total / eligible.length
  // Biggest first (longest-processing-time greedy): the small ones fill the gaps.
  const order = Array.from(sessions.keys()).sort((a, b) => sessions[b]!.hashrate - sessions[a]!.hashrate || sessions[a]!.id - sessions[b]!.id)
  const moving: number[] = []
  for (const i of order) {
    const s = sessions[i]!
    const k = s.farmer === undefined ? undefined : slotOf.get(s.farmer)
    if (k !== undefined && (load[k] === 0 || load[k]! + s.hashrate <= fair * input.slackRatio)) {
      load[k] = load[k]! + s.hashrate
      out[i] = eligible[k]
    } else moving.push(i)
  }
  for (const i of moving) {
    let best = 0
    for (let k = 1; k < eligible.length; k++) if (load[k]! < load[best]!) best = k
    load[best] = load[best]! + sessions[i]!.hashrate
    out[i] = eligible[best]
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
