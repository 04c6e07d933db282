// The Piscina verifier: batched hashes equal keccak256, busy when full, bounded.
import { describe, it, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import { Verifier } from '../../src/workers/verifier.js'
import { keccak256, preimage } from '../../src/kale/index.js'
import { compiledWorkerFile } from '../../src/workers/worker-file.js'

let v: Verifier | undefined
afterEach(async () => {
  await v?.close()
  v = undefined
})

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
    const accepted: Promise<Uint8Array>[] = []
    let busy = 0
    for (let i = 0; i < 20; i++) {
      const p = v.hash(t, BigInt(i))
      if (p) accepted.push(p)
      else busy++
    }
    // 1 running + 1 queued + 1 waiting batch of 2 each
    expect(accepted.length).toBe(6)
    expect(busy).toBe(14)
    await Promise.all(accepted)
    expect(v.hash(t, 99n)).toBeInstanceOf(Promise)
  })
})
