// extranonce1 allocation and session resume.
//
// An extranonce1 is unique among live sessions and among sessions that may still
// resume (dropped < RESUME_MS ago) — stronger than "unique per (block, farmer)"
// and simpler: a session keeps its range when it is moved between farmers or
// blocks, and two live sessions can never search the same nonces.
//
// A reservation is freed when it expires or is evicted (the parked set is full,
// or no extranonce1 is free for a new session). Its extranonce1 may then go to a
// new session in the same block: `onFree` hands the freed carry to the owner (the
// stratifier), which passes its duplicate memory on to the next holder.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'

export const RESUME_MS = 10 * 60 * 1000

export interface Resumable<T> {
  extranonce1: number
  /** State carried over on resume (e.g. the session's jobs and their duplicate sets). */
  carry: T
  expiresAtMs: number
}

export class ExtranonceAllocator<T> {
  private readonly space: number
  private next: number
  private readonly used = new Set<number>()
  /** sessionId → reservation, in insertion (= expiry) order. */
  private readonly parked = new Map<string, Resumable<T>>()

  constructor(
    readonly bytes: number,
    private readonly parkedMax: number,
    /** A parked reservation was freed without a resume (expired or evicted). */
    private readonly onFree: (extranonce1: number, carry: T) => void = () => {},
  ) {
    assert.ok(bytes >= 1 && bytes <= 6)
    this.space = 2 ** (8 * bytes)
    this.next = Math.floor(Math.random() * this.space)
  }

  get inUse(): number {
    return this.used.size
  }

  hex(e1: number): string {
    return e1.toString(16).padStart(this.bytes * 2, '0')
  }

  /**
   * A fresh extranonce1, or undefined when every one is held by a live (or
   * draining) session. Live and parked sessions together can outnumber the space
   * (config bounds only SESSIONS_MAX by it), so when none is free the oldest parked
   * reservation gives way: a new miner matters more than a resume that may never come.
   */
  allocate(): number | undefined {
    if (this.used.size >= this.space) this.evictOldest()
    if (this.used.size >= this.space) return undefined
    // Bounded: at most `space` probes; in practice one (the space dwarfs the sessions).
    for (let i = 0; i < this.space; i++) {
      const e = this.next
      this.next = (this.next + 1) % this.space
      if (!this.used.has(e)) {
        this.used.add(e)
        return e
      }
    }
    return undefined
  }

  /** Takes over a parked session's extranonce1 if `sessionId` is known and not expired. */
  resume(sessionId: string, nowMs: number): Resumable<T> | undefined {
    const r = this.parked.get(sessionId)
    if (!r) return undefined
    this.parked.delete(sessionId)
    if (r.expiresAtMs <= nowMs) {
      this.free(r)
      return undefined
    }
    return r
  }

  /** A live session ended: keep its extranonce1 reserved for resume. */
  park(sessionId: string, extranonce1: number, carry: T, nowMs: number): void {
    assert.ok(this.used.has(extranonce1), 'parking an extranonce1 not in use')
    if (this.parked.size >= this.parkedMax) this.evictOldest()
    this.parked.set(sessionId, { extranonce1, carry, expiresAtMs: nowMs + RESUME_MS })
  }

  /** The carries of the sessions parked now, oldest first. */
  *carries(): IterableIterator<T> {
    for (const r of this.parked.values()) yield r.carry
  }

  release(extranonce1: number): void {
    this.used.delete(extranonce1)
  }

  /** Frees expired reservations (called from the server's coarse timer). */
  expire(nowMs: number): void {
    for (const [id, r] of this.parked) {
      if (r.expiresAtMs > nowMs) break
      this.parked.delete(id)
      this.free(r)
    }
  }

  private evictOldest(): void {
    const first = this.parked.entries().next()
    if (first.done) return
    const [id, r] = first.value
    this.parked.delete(id)
    this.free(r)
  }

  private free(r: Resumable<T>): void {
    this.used.delete(r.extranonce1)
    this.onFree(r.extranonce1, r.carry)
  }
}

/** 16 hex digits, unguessable (a sessionId is the right to resume an extranonce1). */
export function newSessionId(): string {
  return randomBytes(8).toString('hex')
}
