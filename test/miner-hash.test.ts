// The miner's hashing threads (src/miner/hash-threads.ts). Workers run the compiled
// dist/ files: npm test builds first.
import { afterEach, describe, expect, it } from 'vitest'
import { HashThreads, benchmark, compiledSibling, threadRange, type FoundShare, type HashJob } from '../src/miner/hash-threads.js'
import { keccak256, meetsTarget, preimage } from '../src/kale/index.js'
import { isPoolError } from '../src/errors.js'

const entropy = Uint8Array.from({ length: 32 }, (_, i) => i)
const farmerKey = new Uint8Array(32).fill(0x5a)
const job = (over: Partial<HashJob> = {}): HashJob => ({ jobId: 'a', index: 1234, entropy, farmerKey, difficulty: 256, extranonce1Hex: 'c0ffee', ...over })
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

let engine: HashThreads | undefined
afterEach(async () => {
  await engine?.stop()
  engine = undefined
})

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function checkShare(s: FoundShare, j: HashJob): void {
  const pre = preimage(j.index, s.nonce, j.entropy, j.farmerKey)
  expect(hex(s.hash)).toBe(hex(keccak256(pre)))
  expect(meetsTarget(s.hash, j.difficulty)).toBe(true)
  expect(s.nonceHex).toBe(s.nonce.toString(16).padStart(16, '0'))
  expect(s.nonceHex.startsWith(j.extranonce1Hex)).toBe(true)
  expect(s.jobId).toBe(j.jobId)
}

describe('compiledSibling', () => {
  it('maps a source file to its dist/ twin and leaves compiled files alone', () => {
    expect(compiledSibling('file:///p/src/miner/hash-threads.ts', './hash-worker.js').href).toBe('file:///p/dist/miner/hash-worker.js')
    expect(compiledSibling('file:///p/dist/miner/hash-threads.js', './hash-worker.js').href).toBe('file:///p/dist/miner/hash-worker.js')
    expect(compiledSibling('file:///a/src/b/src/c/x.ts', './y.js').href).toBe('file:///a/src/b/dist/c/y.js')
  })
})

describe('threadRange', () => {
  it('splits the extranonce2 space into disjoint, covering slices', () => {
    for (const [e1, n] of [[new Uint8Array(0), 3], [Uint8Array.from([0xc0, 0xff, 0xee]), 2], [Uint8Array.from([1, 2, 3, 4, 5, 6, 7]), 5]] as const) {
      const base = BigInt('0x' + (hex(e1) || '0')) << BigInt(64 - 8 * e1.length)
      const span = 1n << BigInt(64 - 8 * e1.length)
      let at = base
      for (let t = 0; t < n; t++) {
        const r = threadRange(e1, t, n)
        expect(r.start).toBe(at)
        expect(r.end > r.start).toBe(true)
        at = r.end
      }
      expect(at).toBe(base + span)
    }
  })
})

describe('HashThreads', () => {
  it('finds valid shares for an easy target on every thread', async () => {
    const shares: FoundShare[] = []
    const errors: Error[] = []
    engine = await HashThreads.start({ threads: 2, onShare: (s) => shares.push(s), onError: (e) => errors.push(e) })
    const j = job()
    engine.setJob(j)
    await until(() => shares.some((s) => s.nonceHex[6]! < '8') && shares.some((s) => s.nonceHex[6]! >= '8'), 10_000)
    expect(engine.hashes).toBeGreaterThan(0)
    for (const s of shares.slice(0, 50)) checkShare(s, j)
    expect(new Set(shares.map((s) => s.nonceHex)).size).toBe(shares.length)
    expect(errors).toEqual([])
  })

  it('reports every nonce of a small range at D = 1, then says the job is exhausted', async () => {
    const shares: FoundShare[] = []
    const exhausted: string[] = []
    engine = await HashThreads.start({ threads: 2, onShare: (s) => shares.push(s), onExhausted: (id) => exhausted.push(id) })
    const j = job({ jobId: 'small', difficulty: 1, extranonce1Hex: '0102030405ffff' })
    engine.setJob(j)
    await until(() => exhausted.length === 1, 10_000)
    expect(exhausted).toEqual(['small'])
    expect(shares.length).toBe(256)
    expect(new Set(shares.map((s) => s.nonceHex)).size).toBe(256)
    for (const s of shares.filter((_, i) => i % 37 === 0)) checkShare(s, j)
    expect(shares.map((s) => s.nonce).sort((a, b) => (a < b ? -1 : 1))[0]).toBe(0x0102030405ffff00n)
    expect(engine.hashes).toBe(256)
  })

  it('handles the nonce space’s upper end (extranonce1 ffffffffffffff)', async () => {
    const shares: FoundShare[] = []
    const exhausted: string[] = []
    engine = await HashThreads.start({ threads: 1, onShare: (s) => shares.push(s), onExhausted: (id) => exhausted.push(id) })
    const j = job({ jobId: 'top', difficulty: 1, extranonce1Hex: 'ffffffffffffff' })
    engine.setJob(j)
    await until(() => exhausted.length === 1, 10_000)
    expect(shares.length).toBe(256)
    expect(shares.some((s) => s.nonceHex === 'ffffffffffffffff')).toBe(true)
    checkShare(shares.find((s) => s.nonceHex === 'ffffffffffffffff')!, j)
  })

  it('setJob switches all threads promptly; idle() stops hashing', async () => {
    const shares: (FoundShare & { at: number })[] = []
    engine = await HashThreads.start({ threads: 2, onShare: (s) => shares.push({ ...s, at: Date.now() }) })
    engine.setJob(job({ jobId: 'a', difficulty: 64 }))
    await until(() => shares.length > 0, 10_000)
    const b = job({ jobId: 'b', difficulty: 64, extranonce1Hex: 'beef00', index: 99 })
    engine.setJob(b)
    const switched = Date.now()
    await until(() => shares.filter((s) => s.jobId === 'b').length >= 4, 10_000)
    const lateA = shares.filter((s) => s.jobId === 'a' && s.at > switched + 1_000)
    expect(lateA).toEqual([])
    for (const s of shares.filter((x) => x.jobId === 'b').slice(0, 10)) checkShare(s, b)
    engine.idle()
    await new Promise((r) => setTimeout(r, 300))
    const h = engine.hashes
    await new Promise((r) => setTimeout(r, 300))
    expect(engine.hashes).toBe(h)
  })

  it('rejects bad options and jobs', async () => {
    for (const threads of [0, -1, 1.5, 257, NaN]) {
      await expect(HashThreads.start({ threads, onShare: () => {} })).rejects.toThrow(/threads must be an integer 1\.\.256/)
    }
    engine = await HashThreads.start({ threads: 1, onShare: () => {} })
    const bad: [Partial<HashJob>, RegExp][] = [
      [{ extranonce1Hex: 'abc' }, /extranonce1/],
      [{ extranonce1Hex: '0011223344556677' }, /extranonce1/],
      [{ extranonce1Hex: 'zz' }, /extranonce1/],
      [{ difficulty: 0.5 }, /difficulty/],
      [{ index: -1 }, /index/],
      [{ entropy: new Uint8Array(31) }, /entropy/],
      [{ farmerKey: new Uint8Array(3) }, /farmer/],
    ]
    for (const [over, re] of bad) {
      let err: unknown
      try {
        engine.setJob(job(over))
      } catch (e) {
        err = e
      }
      expect(isPoolError(err, 'ARGUMENT_INVALID')).toBe(true)
      expect((err as Error).message).toMatch(re)
    }
    await engine.stop()
    expect(() => engine!.setJob(job())).toThrow(/stopped/)
  })
})

describe('benchmark', () => {
  it('returns a positive rate for the thread count asked', async () => {
    const r = await benchmark({ threads: 1, seconds: 1 })
    expect(r.threads).toBe(1)
    expect(r.hashesPerSecond).toBeGreaterThan(0)
    expect(Number.isInteger(r.hashesPerSecond)).toBe(true)
  })

  it('rejects bad durations and thread counts', async () => {
    await expect(benchmark({ threads: 1, seconds: 0 })).rejects.toThrow(/seconds/)
    await expect(benchmark({ threads: 1, seconds: NaN })).rejects.toThrow(/seconds/)
    await expect(benchmark({ threads: 0, seconds: 1 })).rejects.toThrow(/threads/)
  })
})
