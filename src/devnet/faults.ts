// Seeded fault injection: with probability `rate` a JSON-RPC request fails the
// way real RPC providers fail. A small xorshift PRNG seeded from --seed keeps
// runs reproducible (same seed, same request order → same faults).

export const FaultKind = {
  http503: 'http503',
  hang: 'hang',
  tryAgainLater: 'tryAgainLater',
  dropAfterPending: 'dropAfterPending',
} as const
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind]

/** A hang lasts at most this long (then a 503), and ends at close(). */
export const HANG_MS_MAX = 30_000

export function seedToInt(seed: string | number | undefined): number {
  const s = String(seed ?? 'kale-devnet')
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0
  return h || 1
}

/** xorshift32 → [0, 1) */
export function makeRandom(seed: string | number | undefined): () => number {
  let x = seedToInt(seed)
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x / 0x1_0000_0000
  }
}

export class Faults {
  private readonly random: () => number
  readonly counts: Record<FaultKind, number> = { http503: 0, hang: 0, tryAgainLater: 0, dropAfterPending: 0 }

  constructor(
    /** probability 0..1 that a request fails; tests may change it while the devnet runs */
    public rate: number,
    seed: string | number | undefined,
  ) {
    this.random = makeRandom(`${String(seed ?? '')}:faults`)
  }

  /** The fault to inject into a request of `method`, or null. Send-only kinds apply to sendTransaction. */
  decide(method: string): FaultKind | null {
    if (this.rate <= 0) return null
    if (this.random() >= this.rate) return null
    const kinds: FaultKind[] = method === 'sendTransaction' ? ['http503', 'hang', 'tryAgainLater', 'dropAfterPending'] : ['http503', 'hang']
    const kind = kinds[Math.floor(this.random() * kinds.length)]!
    this.counts[kind]++
    return kind
  }
}
