// Variable difficulty, pure: a session's share history since the last retarget
// and `now` in, the next difficulty out. Aims at one share per targetSeconds.

export interface VardiffParams {
  targetSeconds: number
  retargetSeconds: number
  /** Retarget early after this many shares (PROTOCOL.md: 30). */
  retargetSharesMax: number
  difficultyMin: number
  difficultyMax: number
  /** No change unless the ideal difficulty differs by more than this factor (hysteresis). */
  hysteresisRatio: number
}

export const VARDIFF_SHARES_MAX = 30
export const VARDIFF_HYSTERESIS_RATIO = 1.5
/** With few shares the estimate is noisy: move at most this factor per retarget. */
const FEW_SHARES = 4
const FEW_SHARES_STEP_MAX = 4
/** No share at all in a window: divide by this. */
const NO_SHARE_DIVISOR = 4

export interface VardiffState {
  /** ms of the window's start (last retarget or session start) */
  windowStartMs: number
  shares: number
  /** Σ credited difficulty of the window's shares */
  difficultySum: number
  /** Hashes/s estimated at the last retarget (0 = none yet) */
  hashrate: number
}

export function vardiffStart(nowMs: number): VardiffState {
  return { windowStartMs: nowMs, shares: 0, difficultySum: 0, hashrate: 0 }
}

/** Records one accepted share credited at `difficulty`. */
export function vardiffRecord(s: VardiffState, difficulty: number): VardiffState {
  return { ...s, shares: s.shares + 1, difficultySum: s.difficultySum + difficulty }
}

export function clampDifficulty(d: number, min: number, max: number): number {
  if (!Number.isFinite(d)) return max
  return d < min ? min : d > max ? max : d
}

/** Whether a retarget is due (time or share count). */
export function vardiffDue(s: VardiffState, nowMs: number, p: VardiffParams): boolean {
  return s.shares >= p.retargetSharesMax || nowMs - s.windowStartMs >= p.retargetSeconds * 1000
}

/**
 * The retarget decision: returns the new state (window restarted) and the new
 * difficulty, or `difficulty: undefined` when unchanged. `floor` is the session's
 * suggest_difficulty (already clamped), applied as a lower bound.
 */
export function vardiffRetarget(
  s: VardiffState, current: number, floor: number, nowMs: number, p: VardiffParams,
): { state: VardiffState; difficulty: number | undefined } {
  const elapsedSeconds = Math.max((nowMs - s.windowStartMs) / 1000, 0.001)
  const hashrate = s.difficultySum / elapsedSeconds
  let ideal: number
  if (s.shares === 0) ideal = current / NO_SHARE_DIVISOR
  else {
    ideal = hashrate * p.targetSeconds
    if (s.shares < FEW_SHARES) ideal = Math.min(Math.max(ideal, current / FEW_SHARES_STEP_MAX), current * FEW_SHARES_STEP_MAX)
  }
  const next = clampDifficulty(Math.max(ideal, floor), p.difficultyMin, p.difficultyMax)
  const state: VardiffState = { windowStartMs: nowMs, shares: 0, difficultySum: 0, hashrate: s.shares === 0 ? s.hashrate / NO_SHARE_DIVISOR : hashrate }
  const ratio = next / current
  const changed = ratio > p.hysteresisRatio || ratio < 1 / p.hysteresisRatio || next === p.difficultyMin || next === p.difficultyMax || next === floor
  // Compared after rounding: a change that rounds back to `current` is none.
  const rounded = roundDifficulty(next)
  return { state, difficulty: changed && rounded !== current ? rounded : undefined }
}

/** Difficulties sent to miners: integers below 2^53, powers of two above (PROTOCOL.md). */
export function roundDifficulty(d: number): number {
  if (d >= 2 ** 53) return 2 ** Math.floor(Math.log2(d))
  return Math.max(1, Math.round(d))
}
