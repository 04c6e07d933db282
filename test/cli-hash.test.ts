// `kale-pool hash`: spawns the compiled CLI (npm test builds first).
import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { preimage, zeros } from '../src/kale/index.js'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const fixture = JSON.parse(readFileSync(new URL('./fixtures/kale-hash.json', import.meta.url), 'utf8')) as {
  vectors: { index: number; nonce: string; entropy: string; farmer: string; hash: string; zeros: number }[]
}

function hash(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'hash', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}

const v0 = fixture.vectors[0]!
const good = (over: Record<string, string | null> = {}): string[] => {
  const base: Record<string, string | null> = { index: String(v0.index), nonce: v0.nonce, entropy: v0.entropy, farmer: v0.farmer, ...over }
  return Object.entries(base).flatMap(([k, v]) => (v === null ? [] : [`--${k}`, v]))
}

describe('kale-pool hash', () => {
  it('prints the exact JSON line of every vector', async () => {
    const runs = await Promise.all(fixture.vectors.map((v) => hash(['--index', String(v.index), '--nonce', v.nonce, '--entropy', v.entropy, '--farmer', v.farmer])))
    runs.forEach((r, i) => {
      const v = fixture.vectors[i]!
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(`{"hash":"${v.hash}","zeros":${v.zeros}}\n`)
    })
  })

  it('accepts a 0x-hex nonce, uppercase entropy and --name=value', async () => {
    const r = await hash(good({ nonce: '0x' + BigInt(v0.nonce).toString(16), entropy: v0.entropy.toUpperCase() }))
    expect(r.stdout).toBe(`{"hash":"${v0.hash}","zeros":${v0.zeros}}\n`)
    const eq = await hash([`--index=${v0.index}`, `--nonce=${v0.nonce}`, `--entropy=${v0.entropy}`, `--farmer=${v0.farmer}`])
    expect(eq.stdout).toBe(`{"hash":"${v0.hash}","zeros":${v0.zeros}}\n`)
  })

  it('hashes the edges: index 0 and 2^32-1, nonce 2^64-1', async () => {
    for (const [index, nonce] of [[4_294_967_295, 18_446_744_073_709_551_615n], [0, 0n]] as const) {
      const h = keccak_256(preimage(index, nonce, Buffer.from(v0.entropy, 'hex'), v0.farmer))
      const r = await hash(good({ index: String(index), nonce: String(nonce) }))
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(`{"hash":"${Buffer.from(h).toString('hex')}","zeros":${zeros(h)}}\n`)
    }
  })

  const bad: [string, string[], RegExp][] = [
    ['missing --index', good({ index: null }), /--index is required/],
    ['missing --farmer', good({ farmer: null }), /--farmer is required/],
    ['negative index', good({ index: '-1' }), /--index must be an integer 0\.\.4294967295/],
    ['index 2^32', good({ index: '4294967296' }), /--index must be/],
    ['fractional index', good({ index: '1.5' }), /--index must be/],
    ['text index', good({ index: 'abc' }), /--index must be/],
    ['nonce 2^64', good({ nonce: '18446744073709551616' }), /--nonce must be an integer 0\.\.18446744073709551615/],
    ['negative nonce', good({ nonce: '-1' }), /--nonce must be/],
    ['17-digit hex nonce', good({ nonce: '0x1' + '0'.repeat(16) }), /--nonce must be/],
    ['text nonce', good({ nonce: 'twelve' }), /--nonce must be/],
    ['short entropy', good({ entropy: v0.entropy.slice(2) }), /--entropy must be 64 hex digits/],
    ['non-hex entropy', good({ entropy: 'g'.repeat(64) }), /--entropy must be 64 hex digits/],
    ['bad farmer checksum', good({ farmer: v0.farmer.slice(0, 55) + (v0.farmer.endsWith('A') ? 'B' : 'A') }), /--farmer must be a valid G- or C-address/],
    ['secret seed as farmer', good({ farmer: 'S' + v0.farmer.slice(1) }), /--farmer must be/],
    ['unknown option', [...good(), '--bogus', '1'], /unknown option --bogus/],
    ['option without value', [...good({ farmer: null }), '--farmer'], /--farmer needs a value/],
  ]

  it('answers each bad argument with one line naming it and exit code 2', async () => {
    const runs = await Promise.all(bad.map(([, args]) => hash(args)))
    runs.forEach((r, i) => {
      const [what, , re] = bad[i]!
      expect(r.code, what).toBe(2)
      expect(r.stdout, what).toBe('')
      expect(r.stderr, what).toMatch(re)
      expect(r.stderr.split('\n').filter(Boolean).length, what).toBe(1)
      expect(r.stderr.startsWith('kale-pool hash: '), what).toBe(true)
    })
  })
})
