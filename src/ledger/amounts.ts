// Exact conversions between JS values and the ledger's SQL representations.
//
// Difficulty: a share's difficulty is a double >= 1 (PROTOCOL.md; beyond 2^53
// only powers of two). It is quantised ONCE, at intake, to millionths ("micro-
// difficulty", a bigint): integers convert exactly; a fractional double is < 2^52
// so its integer part is exact and only the fraction is rounded to 6 decimals.
// From there on every sum is exact: bigint in memory, numeric(60,6) in SQL, and
// the reward split weighs miners by these bigints. (Summing doubles instead would
// drift once totals pass 2^53 or fractions accumulate.)
import assert from 'node:assert/strict'

export const MICRO = 1_000_000n
const MICRO_DIGITS = 6
const NUMERIC_PATTERN = /^(-?)(\d+)(?:\.(\d+))?$/
const INT_PATTERN = /^-?\d+$/

/** Difficulty (double >= 1) → millionths, exact for integers, fraction rounded half-up. */
export function difficultyToMicro(d: number): bigint {
  assert(Number.isFinite(d) && d >= 1, 'difficulty must be a finite number >= 1')
  if (Number.isInteger(d)) return BigInt(d) * MICRO
  const whole = Math.trunc(d)
  // d - whole is exact for a double below 2^52 with a fractional part.
  const frac = Math.round((d - whole) * 1e6)
  return BigInt(whole) * MICRO + BigInt(frac)
}

/** millionths → numeric literal with 6 decimals ("12.500000"). */
export function microToNumeric(m: bigint): string {
  const neg = m < 0n
  const a = neg ? -m : m
  const s = `${a / MICRO}.${(a % MICRO).toString().padStart(MICRO_DIGITS, '0')}`
  return neg ? `-${s}` : s
}

/** A numeric value as text ("12.5", "3", "-0.000001") → millionths; more than 6 decimals must be zeros. */
export function numericToMicro(text: string): bigint {
  const m = NUMERIC_PATTERN.exec(text)
  assert(m, `not a numeric value: ${text.slice(0, 40)}`)
  const frac = (m[3] ?? '').padEnd(MICRO_DIGITS, '0')
  assert(/^0*$/.test(frac.slice(MICRO_DIGITS)), 'numeric value finer than millionths')
  const v = BigInt(m[2]!) * MICRO + BigInt(frac.slice(0, MICRO_DIGITS))
  return m[1] === '-' ? -v : v
}

/** millionths → a double, for display only (hashrates, API), never for money. */
export function microToNumber(m: bigint): number {
  return Number(m / MICRO) + Number(m % MICRO) / 1e6
}

/** An integer SQL value (int8 read as bigint, or sum()/numeric read as text) → bigint. */
export function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v
  if (v === null || v === undefined) return 0n
  if (typeof v === 'number') {
    assert(Number.isSafeInteger(v), 'integer value out of range')
    return BigInt(v)
  }
  const s = String(v)
  if (INT_PATTERN.test(s)) return BigInt(s)
  // numeric results such as sum(int8) may come back as "123" or "123.000"
  const micro = numericToMicro(s)
  assert(micro % MICRO === 0n, 'expected an integer value')
  return micro / MICRO
}

/** A percentage (double, 0..100) → parts per million of the whole, rounded. */
export function percentToPpm(percent: number): bigint {
  assert(Number.isFinite(percent) && percent >= 0 && percent <= 100, 'percent must be 0..100')
  return BigInt(Math.round(percent * 10_000))
}
