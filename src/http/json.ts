// JSON for the API: bigint never becomes a double. A bigint field `xStroops`
// is written as `"xStroops": "123"` followed by `"xKale": "0.0000123"`; any
// other bigint as its decimal string.
import { stroopsToKale } from '../kale/reward.js'

const DEPTH_MAX = 16

/** A JSON-safe copy of `value` (bigint → decimal strings, money gets its KALE twin). */
export function toWire(value: unknown, depth = 0): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value === null || typeof value !== 'object') return value
  if (depth >= DEPTH_MAX) throw new Error('toWire: value nested too deep')
  if (Array.isArray(value)) return value.map((v) => toWire(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue
    if (typeof v === 'bigint' && k.endsWith('Stroops')) {
      out[k] = v.toString()
      out[`${k.slice(0, -'Stroops'.length)}Kale`] = stroopsToKale(v)
    } else {
      out[k] = toWire(v, depth + 1)
    }
  }
  return out
}

export function stringify(value: unknown): string {
  return JSON.stringify(toWire(value))
}
