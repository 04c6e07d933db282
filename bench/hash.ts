// `npm run bench -- hash [--rounds N] [--json]`: single-thread keccak-256 rate of
// the 76-byte KALE preimage for every implementation, measured in the same run,
// round-robin (so background load hits them alike), median of N rounds each.
//   noble      @noble/hashes keccak_256, one call per hash (the portable baseline)
//   hash-wasm  hash-wasm keccak(256), one reused hasher: init/update/digest
//   batch      keccak256Batch76: the share-verification kernel, 4096 preimages a call
//   mine       NonceSearch.search: the mining kernel, nonce loop inside WebAssembly
import { keccak_256 } from '@noble/hashes/sha3.js'
import { createKeccak } from 'hash-wasm'
import { keccak256Batch76, NonceSearch, preimage, setNonce } from '../src/kale/index.js'
import os from 'node:os'
import { median, report } from './stats.js'

const ROUND_MS = 300
const ROUNDS_DEFAULT = 5
const BATCH = 4096

type Impl = { name: string; run(): number } // hashes done by one call

function sample(): Uint8Array {
  const entropy = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff)
  const farmer = new Uint8Array(32).map((_, i) => (i * 101 + 7) & 0xff)
  return preimage(37, 20_495_217_910n, entropy, farmer)
}

async function implementations(): Promise<Impl[]> {
  const pre = sample()
  let nonce = 0n
  const hasher = await createKeccak(256)
  const packed = new Uint8Array(BATCH * 76)
  for (let i = 0; i < BATCH; i++) {
    setNonce(pre, BigInt(i))
    packed.set(pre, i * 76)
  }
  const out = new Uint8Array(BATCH * 32)
  const search = new NonceSearch()
  search.setWork(pre, new Uint8Array(32)) // target 0: nothing is found, every nonce is hashed
  let sink = 0
  const impls: Impl[] = [
    {
      name: 'noble',
      run: () => {
        for (let i = 0; i < 256; i++) {
          setNonce(pre, nonce++)
          sink ^= keccak_256(pre)[0]!
        }
        return 256
      },
    },
    {
      name: 'hash-wasm',
      run: () => {
        for (let i = 0; i < 1024; i++) {
          setNonce(pre, nonce++)
          hasher.init()
          hasher.update(pre)
          sink ^= hasher.digest('binary')[0]!
        }
        return 1024
      },
    },
    { name: 'batch', run: () => (keccak256Batch76(packed, BATCH, out), (sink ^= out[0]!), BATCH) },
    { name: 'mine', run: () => search.search((nonce += 65_536n), 65_536).hashes },
  ]
  if (sink === -1) throw new Error('unreachable') // keeps `sink` observable
  return impls
}

/** Hashes per wall-clock second and per CPU second of this process (the latter is steadier on a shared machine). */
function measure(impl: Impl): { wall: number; cpu: number } {
  const start = performance.now()
  const cpu0 = process.cpuUsage()
  let hashes = 0
  let elapsed = 0
  while (elapsed < ROUND_MS) {
    hashes += impl.run()
    elapsed = performance.now() - start
  }
  const cpu = process.cpuUsage(cpu0)
  return { wall: hashes / (elapsed / 1000), cpu: hashes / Math.max((cpu.user + cpu.system) / 1e6, 1e-6) }
}

export async function run(argv: string[]): Promise<void> {
  const i = argv.indexOf('--rounds')
  const rounds = i >= 0 ? Number(argv[i + 1]) : ROUNDS_DEFAULT
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new Error('--rounds must be an integer 1..100')
  const impls = await implementations()
  for (const impl of impls) measure(impl) // warm-up: JIT tiers (Liftoff → TurboFan)
  const rates = new Map<string, { wall: number; cpu: number }[]>(impls.map((m) => [m.name, []]))
  for (let r = 0; r < rounds; r++) for (const impl of impls) rates.get(impl.name)!.push(measure(impl))
  const medians = impls.map((m) => ({
    name: m.name,
    hashesPerSecond: Math.round(median(rates.get(m.name)!.map((x) => x.wall))),
    hashesPerCpuSecond: Math.round(median(rates.get(m.name)!.map((x) => x.cpu))),
  }))
  const fastest = Math.max(...medians.map((m) => m.hashesPerSecond))
  const result: Record<string, unknown> = { preimageBytes: 76, rounds, roundMs: ROUND_MS, cpus: os.cpus().length, loadAverage1m: os.loadavg()[0] }
  for (const m of medians) {
    const ratio = m.hashesPerSecond / fastest
    result[m.name] = argv.includes('--json')
      ? { hashesPerSecond: m.hashesPerSecond, ratioToFastest: Number(ratio.toFixed(3)), hashesPerCpuSecond: m.hashesPerCpuSecond }
      : `${(m.hashesPerSecond / 1e6).toFixed(3)} M/s  ×${ratio.toFixed(2)} of fastest  (${(m.hashesPerCpuSecond / 1e6).toFixed(3)} M per CPU-second)`
  }
  result.verification = 'batch'
  result.mining = 'mine'
  report(argv, 'hash', result)
}
