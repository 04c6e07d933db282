// The Piscina verifier: batched hashes equal keccak256, busy when full, bounded.
import { describe, it, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import { Verifier, TEMPLATES_PER_BATCH_MAX, type VerifyDone } from '../../src/workers/verifier.js'
import { keccak256, keccak256BatchTemplated, preimage } from '../../src/kale/index.js'
import { BATCH_CHUNK_MAX } from '../../src/kale/keccak-kernel.js'
import { compiledWorkerFile } from '../../src/workers/worker-file.js'
import verifyTask, { slotLayout } from '../../src/workers/verify-task.js'
import type { Logger } from '../../src/log.js'
import { createMetrics } from '../../src/metrics/metrics.js'

let v: Verifier | undefined
afterEach(async () => {
  await v?.close()
  v = undefined
})

/** Offers nonces 0..n-1 of template `t` at once: the answers taken, and how many were busy. */
function offer(v: Verifier, t: Uint8Array, n: number): { accepted: Promise<Uint8Array>[]; busy: number } {
  const accepted: Promise<Uint8Array>[] = []
  let busy = 0
  for (let i = 0; i < n; i++) {
    const p = v.hash(t, BigInt(i))
    if (p) accepted.push(p)
    else busy++
  }
  return { accepted, busy }
}

describe('Verifier', () => {
  it('resolves the worker file from src/ to dist/', () => {
    expect(compiledWorkerFile(new URL('../../src/workers/verifier.ts', import.meta.url).href, 'verify-task')).toMatch(/dist[\\/]workers[\\/]verify-task\.js$/)
  })

  it('returns keccak256 of each preimage, across batches', async () => {
    v = new Verifier({ threads: 2, batchMax: 8, batchMs: 1, queueMax: 100, idleTimeoutMs: 1000 })
    const template = preimage(42, 0n, randomBytes(32), randomBytes(32))
    const nonces = Array.from({ length: 50 }, (_, i) => BigInt(i) * 0x0123456789n)
    const hashes = await Promise.all(nonces.map((n) => v!.hash(template, n)!))
    for (let i = 0; i < nonces.length; i++) {
      const pre = Uint8Array.from(template)
      new DataView(pre.buffer).setBigUint64(4, nonces[i]!, false)
      expect(Buffer.from(hashes[i]!).toString('hex')).toBe(Buffer.from(keccak256(pre)).toString('hex'))
    }
  })

  it('answers busy (undefined) once threads + queueMax tasks and a full batch are waiting, then recovers', async () => {
    v = new Verifier({ threads: 1, batchMax: 2, batchMs: 50, queueMax: 1, idleTimeoutMs: 1000 })
    const t = preimage(1, 0n, new Uint8Array(32), new Uint8Array(32))
    const { accepted, busy } = offer(v, t, 20)
    // 1 running + 1 queued + 1 waiting batch of 2 each
    expect(accepted.length).toBe(6)
    expect(busy).toBe(14)
    await Promise.all(accepted)
    expect(v.hash(t, 99n)).toBeInstanceOf(Promise)
  })

  it('answers busy once sharesInFlightMax shares are taken and unanswered, whatever the tasks, then recovers', async () => {
    // Tasks would allow far more: the share bound is the one that bites.
    const metrics = createMetrics()
    v = new Verifier({ threads: 1, batchMax: 4, batchMs: 1, queueMax: 100, sharesInFlightMax: 10, idleTimeoutMs: 1000, metrics })
    const t = preimage(1, 0n, new Uint8Array(32), new Uint8Array(32))
    const { accepted, busy } = offer(v, t, 25)
    expect(accepted.length).toBe(10)
    expect(busy).toBe(15)
    expect(v.sharesOutstanding).toBe(10)
    await Promise.all(accepted)
    expect(v.sharesOutstanding).toBe(0)
    expect((await metrics.verifySharesInFlight.get()).values[0]!.value).toBe(0)
    const again = v.hash(t, 99n)
    expect(again).toBeInstanceOf(Promise)
    await again
  })

  it('a throwing callback is reported and the rest of its batch is still answered', async () => {
    const reported: unknown[] = []
    const log = { error: (o: { err: unknown }) => void reported.push(o.err) } as unknown as Logger
    v = new Verifier({ threads: 1, batchMax: 8, batchMs: 5, queueMax: 4, idleTimeoutMs: 1000, log })
    const t = preimage(2, 0n, randomBytes(32), randomBytes(32))
    const answered: number[] = []
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 4; i++) {
        v!.verify(t, i.toString(16).padStart(16, '0'), (h) => {
          if (i === 1) throw new Error('boom')
          if (h) answered.push(i)
          if (answered.length === 3) resolve()
        })
      }
    })
    expect(answered).toEqual([0, 2, 3])
    expect(reported.map((e) => (e as Error).message)).toEqual(['boom'])
    expect(v.sharesOutstanding).toBe(0)
  })

  it('close() answers a batch still waiting for room when the grace is over with an error', async () => {
    const w = new Verifier({ threads: 1, batchMax: 1, batchMs: 5, queueMax: 1, idleTimeoutMs: 1000 })
    const t = preimage(4, 0n, randomBytes(32), randomBytes(32))
    const outcomes: string[] = []
    // batchMax 1: every share seals a task; 1 running + 1 queued, the third waits for room.
    for (let i = 0; i < 3; i++) expect(w.verify(t, i.toString(16).padStart(16, '0'), (h, _at, err) => void outcomes.push(h ? 'hash' : (err as Error).message))).toBe(true)
    await w.close(0)
    expect(outcomes.sort()).toEqual(['hash', 'hash', 'verifier closed'])
    expect(w.sharesOutstanding).toBe(0)
  })

  /** keccak256 of `template` with the nonce given as 16 hex digits at bytes 4..12. */
  const expected = (template: Uint8Array, nonceHex: string): string => {
    const pre = Uint8Array.from(template)
    pre.set(Buffer.from(nonceHex, 'hex'), 4)
    return Buffer.from(keccak256(pre)).toString('hex')
  }
  const verifyAll = (shares: Array<{ template: Uint8Array; nonce: string }>): Promise<string[]> =>
    Promise.all(
      shares.map(
        (sh) =>
          new Promise<string>((resolve, reject) => {
            const done: VerifyDone = (h, at, err) => (h ? resolve(Buffer.from(h.subarray(at, at + 32)).toString('hex')) : reject(err))
            if (!v!.verify(sh.template, sh.nonce, done)) reject(new Error('busy'))
          }),
      ),
    )

  it('hashes shares of more distinct jobs than one batch holds, interleaved, with upper- and lower-case nonces', async () => {
    v = new Verifier({ threads: 2, batchMax: 64, batchMs: 5, queueMax: 100, idleTimeoutMs: 1000 })
    const templates = Array.from({ length: TEMPLATES_PER_BATCH_MAX + 9 }, (_, i) => preimage(i, 0n, randomBytes(32), randomBytes(32)))
    const shares = Array.from({ length: 400 }, (_, i) => {
      const hex = randomBytes(8).toString('hex')
      return { template: templates[(i * 7) % templates.length]!, nonce: i % 2 ? hex.toUpperCase() : hex }
    })
    const got = await verifyAll(shares)
    expect(got).toEqual(shares.map((sh) => expected(sh.template, sh.nonce)))
  })

  it('hashes a batch larger than one kernel chunk (the answer cannot overwrite its own input)', async () => {
    v = new Verifier({ threads: 1, batchMax: BATCH_CHUNK_MAX + 500, batchMs: 50, queueMax: 4, idleTimeoutMs: 1000 })
    const a = preimage(5, 0n, randomBytes(32), randomBytes(32))
    const b = preimage(6, 0n, randomBytes(32), randomBytes(32))
    const shares = Array.from({ length: BATCH_CHUNK_MAX + 500 }, (_, i) => ({ template: i < BATCH_CHUNK_MAX ? a : b, nonce: i.toString(16).padStart(16, '0') }))
    const got = await verifyAll(shares)
    for (const i of [0, 1, BATCH_CHUNK_MAX - 1, BATCH_CHUNK_MAX, BATCH_CHUNK_MAX + 499]) expect(got[i]).toBe(expected(shares[i]!.template, shares[i]!.nonce))
  })

  it('hashes batches that end on a rope boundary and batches that end past one (the staged nonce digits)', async () => {
    v = new Verifier({ threads: 2, batchMax: 2048, batchMs: 20, queueMax: 4, idleTimeoutMs: 1000 })
    const t = preimage(10, 0n, randomBytes(32), randomBytes(32))
    for (const n of [1024, 2048, 1025, 2047, 1023]) {
      const shares = Array.from({ length: n }, () => ({ template: t, nonce: randomBytes(8).toString('hex') }))
      expect(await verifyAll(shares)).toEqual(shares.map((sh) => expected(sh.template, sh.nonce)))
    }
  })

  it('seals at batchMax when it is not a multiple of the rope, with the job changing mid-rope', async () => {
    // 3100 shares in runs of 700 per job: batches of 1500, 1500 and 100, each
    // crossing a rope boundary at 1024 and a change of job between the fast and the
    // general path of verify().
    v = new Verifier({ threads: 2, batchMax: 1500, batchMs: 50, queueMax: 8, idleTimeoutMs: 1000 })
    const jobs = [preimage(11, 0n, randomBytes(32), randomBytes(32)), preimage(12, 0n, randomBytes(32), randomBytes(32))]
    const shares = Array.from({ length: 3100 }, (_, i) => ({ template: jobs[Math.floor(i / 700) % 2]!, nonce: randomBytes(8).toString('hex') }))
    expect(await verifyAll(shares)).toEqual(shares.map((sh) => expected(sh.template, sh.nonce)))
  })

  it('refuses a nonce that is not 16 digits without disturbing the shares around it', async () => {
    v = new Verifier({ threads: 1, batchMax: 64, batchMs: 5, queueMax: 4, idleTimeoutMs: 1000 })
    const t = preimage(3, 0n, randomBytes(32), randomBytes(32))
    const before = verifyAll([{ template: t, nonce: '00000000000000aa' }])
    for (const bad of ['abc', '00000000000000aa0', '']) expect(() => v!.verify(t, bad, () => {})).toThrow(/16 hex digits/)
    const after = verifyAll([{ template: t, nonce: 'ffffffffffffff00' }])
    expect(await before).toEqual([expected(t, '00000000000000aa')])
    expect(await after).toEqual([expected(t, 'ffffffffffffff00')])
  })

  it('reuses its batch buffers: every hash right after many round trips, and a handful of buffers made', async () => {
    v = new Verifier({ threads: 2, batchMax: 16, batchMs: 1, queueMax: 8, idleTimeoutMs: 1000 })
    const t = preimage(8, 0n, randomBytes(32), randomBytes(32))
    for (let round = 0; round < 20; round++) {
      const shares = Array.from({ length: 40 }, () => ({ template: t, nonce: randomBytes(8).toString('hex') }))
      expect(await verifyAll(shares)).toEqual(shares.map((sh) => expected(sh.template, sh.nonce)))
    }
    // 20 rounds of 40 shares are at least 60 batches; 3 are in flight per round at most.
    expect(v.slotsMade).toBeGreaterThan(0)
    expect(v.slotsMade).toBeLessThanOrEqual(8)
  })

  it('the worker task refuses a slot smaller than its layout or counts out of range', () => {
    const small = { buf: new ArrayBuffer(100), count: 1, templates: 1, capacity: 64 }
    expect(() => verifyTask(small)).toThrow(/slot smaller than its layout/)
    const buf = new ArrayBuffer(slotLayout(64).bytes)
    expect(() => verifyTask({ buf, count: 65, templates: 1, capacity: 64 })).toThrow(/out of range/)
    expect(() => verifyTask({ buf, count: 1, templates: TEMPLATES_PER_BATCH_MAX + 1, capacity: 64 })).toThrow(/out of range/)
  })

  it('a failed task answers each of its shares with the error and the verifier goes on', async () => {
    v = new Verifier({ threads: 1, batchMax: 8, batchMs: 1, queueMax: 4, idleTimeoutMs: 1000 })
    const t = preimage(9, 0n, randomBytes(32), randomBytes(32))
    // A template number past the batch's templates makes the kernel throw inside the worker.
    const outcomes = await new Promise<string[]>((resolve) => {
      const got: string[] = []
      const bad = preimage(9, 0n, randomBytes(32), randomBytes(32))
      const done: VerifyDone = (h, _at, err) => {
        got.push(h ? 'hash' : 'error')
        if (got.length === 2) resolve(got)
      }
      v!.verify(t, '00000000000000aa', done)
      v!.verify(bad, '00000000000000bb', done)
      ;(v as unknown as { which: Uint8Array }).which[1] = 200
    })
    expect(outcomes).toEqual(['error', 'error'])
    expect(v.sharesOutstanding).toBe(0)
    expect(await verifyAll([{ template: t, nonce: '00000000000000cc' }])).toEqual([expected(t, '00000000000000cc')])
  })

  it('the templated kernel refuses a share naming a template the batch does not hold', () => {
    const templates = preimage(1, 0n, new Uint8Array(32), new Uint8Array(32))
    expect(() => keccak256BatchTemplated(templates, "0".repeat(32), Uint8Array.of(0, 1), 2, new Uint8Array(64))).toThrow(/names template 1 of 1/)
    expect(() => keccak256BatchTemplated(templates, "0".repeat(16), Uint8Array.of(0, 0), 2, new Uint8Array(64))).toThrow(/hold count shares/)
  })
})
