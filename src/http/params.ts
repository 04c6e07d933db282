// Validation of what clients send the API: query parameters, path parameters
// and admin bodies. Pure; a bad input is a value ({ ok: false, message }) that
// the server answers with 400 and that message.
import { isAccountId } from '../kale/strkey.js'

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string }

export const PAGE_LIMIT_DEFAULT = 20
export const PAGE_LIMIT_MAX = 100
/** Farmer accounts one admin request may register. */
export const FARMERS_ADD_MAX = 1000

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value })
const bad = <T>(message: string): Parsed<T> => ({ ok: false, message })

/** `name` from the query string: absent → def; an integer min..max; given twice → bad. */
export function intParam(query: URLSearchParams, name: string, min: number, max: number, def: number | undefined): Parsed<number | undefined> {
  const all = query.getAll(name)
  if (all.length === 0) return ok(def)
  if (all.length > 1) return bad(`${name} must be given once`)
  const raw = all[0]!
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) return bad(`${name} must be an integer ${min}..${max}`)
  return ok(n)
}

export function limitParam(query: URLSearchParams): Parsed<number> {
  const p = intParam(query, 'limit', 1, PAGE_LIMIT_MAX, PAGE_LIMIT_DEFAULT)
  return p.ok ? ok(p.value ?? PAGE_LIMIT_DEFAULT) : p
}

/** A payout address: a G… account id whose checksum holds. */
export function accountParam(raw: string, name = 'address'): Parsed<string> {
  if (!isAccountId(raw)) return bad(`${name} must be a Stellar account id (G…, 56 characters, valid checksum)`)
  return ok(raw)
}

export interface AddFarmersBody {
  count: number
  stakePercent: number
}

/** Body of POST /api/farmers: { count: 1..FARMERS_ADD_MAX, stakePercent?: 0..100 (default `stakeDefault`) }. */
export function addFarmersBody(body: unknown, stakeDefault: number): Parsed<AddFarmersBody> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return bad('body must be a JSON object {count, stakePercent}')
  const b = body as Record<string, unknown>
  const unknownKeys = Object.keys(b).filter((k) => k !== 'count' && k !== 'stakePercent')
  if (unknownKeys.length > 0) return bad(`unknown field ${JSON.stringify(unknownKeys[0]!.slice(0, 40))}`)
  const count = b.count
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1 || count > FARMERS_ADD_MAX) {
    return bad(`count must be an integer 1..${FARMERS_ADD_MAX}`)
  }
  const stake = b.stakePercent ?? stakeDefault
  if (typeof stake !== 'number' || !Number.isFinite(stake) || stake < 0 || stake > 100) return bad('stakePercent must be a number 0..100')
  return ok({ count, stakePercent: stake })
}
