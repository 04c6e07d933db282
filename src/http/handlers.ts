// One function per API route: validate input (400 with a message), ask the
// PoolView, shape the answer. No sockets here; the server owns those.
import type { PoolView, Health, HealthPart } from './view.js'
import { HEALTH_PARTS } from './view.js'
import { limitParam, intParam, accountParam, addFarmersBody, PAGE_LIMIT_MAX } from './params.js'

export interface Reply {
  status: number
  body: unknown
}

export interface HandlerContext {
  view: PoolView
  query: URLSearchParams
  params: Record<string, string>
  body: unknown
  stakePercentDefault: number
}

export const FARMERS_PAGE_DEFAULT = 100
export const FARMERS_PAGE_MAX = 1000

const badRequest = (message: string): Reply => ({ status: 400, body: { error: message } })
const notFound = (message: string): Reply => ({ status: 404, body: { error: message } })

/** 200 when every part is ok, else 503 naming the failing parts. */
export function healthReply(h: Health): Reply {
  const failing = HEALTH_PARTS.filter((p) => !h[p].ok)
  const parts: Record<string, HealthPart> = {}
  for (const p of HEALTH_PARTS) parts[p] = h[p]
  if (failing.length === 0) return { status: 200, body: { status: 'ok', ...parts } }
  return { status: 503, body: { status: 'fail', failing, ...parts } }
}

export async function health(c: HandlerContext): Promise<Reply> {
  return healthReply(await c.view.health())
}

export async function pool(c: HandlerContext): Promise<Reply> {
  return { status: 200, body: await c.view.pool() }
}

export async function blocks(c: HandlerContext): Promise<Reply> {
  const limit = limitParam(c.query)
  if (!limit.ok) return badRequest(limit.message)
  const before = intParam(c.query, 'before', 0, Number.MAX_SAFE_INTEGER, undefined)
  if (!before.ok) return badRequest(before.message)
  const rows = await c.view.blocks(limit.value, before.value)
  const last = rows[rows.length - 1]
  // `next`: the `before` of the following page, when this page was full.
  const next = rows.length === limit.value && last ? last.index : null
  return { status: 200, body: { blocks: rows.slice(0, limit.value), limit: limit.value, next } }
}

export async function miner(c: HandlerContext): Promise<Reply> {
  const address = accountParam(c.params.address ?? '')
  if (!address.ok) return badRequest(address.message)
  const limit = intParam(c.query, 'blocks', 1, PAGE_LIMIT_MAX, 20)
  if (!limit.ok) return badRequest(limit.message)
  const detail = await c.view.miner(address.value, limit.value ?? 20)
  if (!detail) return notFound('unknown miner: no share from this address yet')
  return { status: 200, body: detail }
}

export async function farmers(c: HandlerContext): Promise<Reply> {
  const limit = intParam(c.query, 'limit', 1, FARMERS_PAGE_MAX, FARMERS_PAGE_DEFAULT)
  if (!limit.ok) return badRequest(limit.message)
  const rows = await c.view.farmers(limit.value ?? FARMERS_PAGE_DEFAULT)
  return { status: 200, body: { farmers: rows.slice(0, limit.value), limit: limit.value } }
}

export async function addFarmers(c: HandlerContext): Promise<Reply> {
  const body = addFarmersBody(c.body, c.stakePercentDefault)
  if (!body.ok) return badRequest(body.message)
  const result = await c.view.addFarmers(body.value.count, body.value.stakePercent)
  return { status: 201, body: result }
}

export async function disableFarmer(c: HandlerContext): Promise<Reply> {
  const key = accountParam(c.params.key ?? '', 'key')
  if (!key.ok) return badRequest(key.message)
  if (!(await c.view.disableFarmer(key.value))) return notFound('unknown farmer')
  return { status: 200, body: { publicKey: key.value, status: 'disabled' } }
}

export async function runPayouts(c: HandlerContext): Promise<Reply> {
  return { status: 200, body: await c.view.runPayouts() }
}
