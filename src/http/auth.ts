// Admin authorization: `Authorization: Bearer <ADMIN_TOKEN>`, compared in
// constant time. Both sides are hashed first so the comparison takes the same
// time whatever the lengths (timingSafeEqual needs equal lengths, and an early
// length check would leak the token's length).
import { createHash, timingSafeEqual } from 'node:crypto'

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

export type AdminDecision = 'ok' | 'disabled' | 'unauthorized'

/** A checker bound to the configured token (undefined = admin API disabled). */
export function adminGate(adminToken: string | undefined): (authorization: string | undefined) => AdminDecision {
  const want = adminToken === undefined ? undefined : digest(adminToken)
  return (authorization) => {
    if (want === undefined) return 'disabled'
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '')
    // Hash something even when the header is malformed: same work either way.
    const got = digest(m ? m[1]! : '')
    return timingSafeEqual(got, want) && m !== null ? 'ok' : 'unauthorized'
  }
}
