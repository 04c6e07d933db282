// The HTTP route table and its matcher: pure, so the 404/405 decisions are
// tested without sockets. Patterns double as the metric `route` label.
import type { HttpRoute } from '../metrics/metrics.js'

export type Method = 'GET' | 'POST'

export interface Route {
  method: Method
  pattern: Exclude<HttpRoute, 'unmatched'>
  /** needs Authorization: Bearer ADMIN_TOKEN */
  admin: boolean
}

export const ROUTES: readonly Route[] = [
  { method: 'GET', pattern: '/', admin: false },
  { method: 'GET', pattern: '/metrics', admin: false },
  { method: 'GET', pattern: '/health', admin: false },
  { method: 'GET', pattern: '/api/pool', admin: false },
  { method: 'GET', pattern: '/api/blocks', admin: false },
  { method: 'GET', pattern: '/api/miners/:address', admin: false },
  { method: 'GET', pattern: '/api/farmers', admin: false },
  { method: 'POST', pattern: '/api/farmers', admin: true },
  { method: 'POST', pattern: '/api/farmers/:key/disable', admin: true },
  { method: 'POST', pattern: '/api/payouts/run', admin: true },
]

export type RouteMatch =
  | { kind: 'match'; route: Route; params: Record<string, string> }
  /** the path exists, not with this method */
  | { kind: 'method'; pattern: HttpRoute; allow: Method[] }
  | { kind: 'none' }
  /** a path segment is not valid percent-encoding */
  | { kind: 'bad'; message: string }

const SEGMENTS_MAX = 8

function splitPath(pathname: string): string[] | null {
  const parts = pathname.split('/').slice(1)
  if (parts.length > SEGMENTS_MAX) return []
  const out: string[] = []
  for (const p of parts) {
    try {
      out.push(decodeURIComponent(p))
    } catch {
      return null
    }
  }
  // A trailing slash is the same resource ("/api/pool/" = "/api/pool").
  if (out.length > 1 && out[out.length - 1] === '') out.pop()
  return out
}

function matchPattern(pattern: string, segments: string[]): Record<string, string> | null {
  const want = pattern.split('/').slice(1)
  if (want.length !== segments.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!
    const s = segments[i]!
    if (w.startsWith(':')) {
      if (s === '') return null
      params[w.slice(1)] = s
    } else if (w !== s) return null
  }
  return params
}

/** HEAD is answered as GET (without a body). */
export function matchRoute(method: string, pathname: string): RouteMatch {
  const segments = splitPath(pathname)
  if (segments === null) return { kind: 'bad', message: 'path is not valid percent-encoding' }
  const m = method === 'HEAD' ? 'GET' : method
  const allow: Method[] = []
  let pattern: HttpRoute | undefined
  for (const route of ROUTES) {
    const params = matchPattern(route.pattern, segments)
    if (!params) continue
    if (route.method === m) return { kind: 'match', route, params }
    allow.push(route.method)
    pattern = route.pattern
  }
  return pattern ? { kind: 'method', pattern, allow } : { kind: 'none' }
}
