// Generates the WebAssembly module of the keccak-256 kernels specialised for
// KALE's 76-byte preimage. 76 < 136 (the rate), so a hash is exactly one
// keccak-f[1600] on a state whose lanes 10..15 and 17..24 start at zero: lanes
// 0..8 are message bytes 0..71, lane 9 is bytes 72..75 plus the pad byte 0x01 at
// offset 76, lane 16 is the final pad bit 0x80 at byte 135.
//
// The permutation is fully unrolled, the 25 lanes live in i64 locals (so the
// JIT keeps them in registers or stack slots, never in linear memory), ρ and π
// are one rotate into a second set of locals, χ writes back. Round 1 skips the
// zero lanes and round 24 computes only the 4 output lanes (32 bytes): both are
// free wins on a one-block hash.
//
// Exports: hashBatch(inPtr, outPtr, n), hashTemplated(templatesPtr, templateCount,
// noncesPtr, whichPtr, outPtr, n) → shares hashed, and mine(startNonce, count) →
// hashes done, plus `memory`. Layout of the mining parameters in memory: see MEM below.
import { FuncBuilder, Op, ValType, encodeModule } from './wasm-writer.js'

/** Fixed offsets in the kernel's linear memory. */
export const MEM = {
  /** mine(): the 76-byte preimage template (nonce bytes ignored). */
  template: 0,
  /** mine(): the target as 4 u64 words, most significant first, each stored little-endian. */
  target: 128,
  /** mine(): i32, stop after this many found nonces (1..FOUND_RECORDS_MAX). */
  foundMax: 160,
  /** mine(): i32, found nonces written so far (the caller resets it). */
  foundCount: 164,
  /** mine(): records of FOUND_RECORD_BYTES: u64 nonce (little-endian) then the 32-byte hash. */
  found: 256,
  /** hashBatch(): first free byte for caller buffers. */
  heap: 4096,
} as const

export const FOUND_RECORD_BYTES = 40
export const FOUND_RECORDS_MAX = 64
export const PAGE_BYTES = 65_536

const LANES = 25
const ROUNDS = 24
const U64 = (1n << 64n) - 1n

/** ρ offsets indexed by lane x + 5y, from the spec's walk (x,y) ← (y, 2x+3y). */
function rhoOffsets(): number[] {
  const r = new Array<number>(LANES).fill(0)
  let x = 1
  let y = 0
  for (let t = 0; t < 24; t++) {
    r[x + 5 * y] = (((t + 1) * (t + 2)) / 2) % 64
    const nx = y
    y = (2 * x + 3 * y) % 5
    x = nx
  }
  return r
}

/** ι round constants from the spec's degree-8 LFSR (x^8 + x^6 + x^5 + x^4 + 1). */
function roundConstants(): bigint[] {
  const out: bigint[] = []
  let lfsr = 1
  for (let round = 0; round < ROUNDS; round++) {
    let rc = 0n
    for (let j = 0; j < 7; j++) {
      if (lfsr & 1) rc |= 1n << BigInt((1 << j) - 1)
      lfsr = lfsr & 0x80 ? ((lfsr << 1) ^ 0x171) & 0xff : lfsr << 1
    }
    out.push(rc)
  }
  return out
}

const RHO = rhoOffsets()
const RC = roundConstants()

/** B position (x + 5y after π) → the A lane it comes from: B[y, 2x+3y] = ρ(A[x, y]). */
const PI_SOURCE: number[] = (() => {
  const src = new Array<number>(LANES).fill(0)
  for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) src[y + 5 * ((2 * x + 3 * y) % 5)] = x + 5 * y
  return src
})()

/**
 * Lane complementing (Keccak implementation overview, §2.2): lanes of this set are
 * kept bitwise complemented between rounds, which lets χ use AND/OR forms with one
 * NOT per row instead of five. The emitter tracks each value's polarity and picks,
 * per χ row, the fewest NOTs that reach the wanted output polarities, so the
 * pattern is only a target: correctness never depends on it.
 */
const COMPLEMENTED = new Set([1, 2, 8, 12, 17, 20])

interface State {
  /** Locals of the current lanes and of the next round's lanes (swapped after each round). */
  a: number[]
  e: number[]
  /** pol[i]: the stored lane i is the bitwise complement of the true lane. */
  pol: boolean[]
  b: number[]
  nb: number[]
  c: number[]
  d: number[]
  /** i32 offset into the round-constant table when the middle rounds loop. */
  rc: number
  /** NOTs emitted so far (reported by kernelStats()). */
  nots: number
}

function declareState(f: FuncBuilder): State {
  const many = (n: number): number[] => Array.from({ length: n }, () => f.local(ValType.i64))
  return {
    a: many(LANES), e: many(LANES), pol: new Array<boolean>(LANES).fill(false),
    b: many(5), nb: many(5), c: many(5), d: many(5), rc: f.local(ValType.i32), nots: 0,
  }
}

/**
 * Rounds per loop iteration for rounds 2..23: 22 = fully unrolled, or 2 (the lane
 * sets ping-pong, so it must be even). 2 measured ~15 % faster than 22 here: the
 * unrolled body (35 KB of x64) overflows the 32 KB L1 instruction cache.
 */
export let MIDDLE_UNROLL = 2
export function setMiddleUnroll(u: number): void {
  if (![2, 22].includes(u)) throw new Error('unroll must be 2 or 22')
  MIDDLE_UNROLL = u
  compiled = undefined
}
const RC_TABLE = 3072
let lastNots = 0
/** NOTs per permutation in the last generated kernel (for the lane-complementing test). */
export function kernelNots(): number {
  return lastNots
}

/** θ's column parities C and D[x] = C[x-1] ^ rotl(C[x+1], 1); returns D's polarities. */
function emitTheta(f: FuncBuilder, s: State, zero: ReadonlySet<number>): boolean[] {
  const cPol: boolean[] = []
  for (let x = 0; x < 5; x++) {
    let terms = 0
    let pol = false
    for (let y = 0; y < 5; y++) {
      const lane = x + 5 * y
      if (zero.has(lane)) continue
      pol = pol !== s.pol[lane]
      f.get(s.a[lane]!)
      if (terms++ > 0) f.op(Op.i64Xor)
    }
    if (terms === 0) f.i64(0n)
    f.set(s.c[x]!)
    cPol.push(pol)
  }
  const dPol: boolean[] = []
  for (let x = 0; x < 5; x++) {
    f.get(s.c[(x + 4) % 5]!).get(s.c[(x + 1) % 5]!).i64(1n).op(Op.i64Rotl).op(Op.i64Xor).set(s.d[x]!)
    dPol.push(cPol[(x + 4) % 5] !== cPol[(x + 1) % 5])
  }
  return dPol
}

interface ChiPlan {
  /** Inputs to complement first. */
  negate: number[]
  /** Per output j: polarities (true = use the complemented copy) of inputs j, j+1, j+2, and whether the term is an OR. */
  forms: { w: boolean; u: boolean; v: boolean; or: boolean }[]
}

/**
 * χ on one row with input polarities p: out_j = b_j ^ (~b_{j+1} & b_{j+2}).
 * With stored inputs of polarity u (for j+1) and v (for j+2): u=1, v=0 gives the
 * term as s1 & s2; u=0, v=1 gives its complement as s1 | s2. Finds the fewest
 * inputs to complement so that every output j with want[j] !== undefined gets
 * that polarity.
 */
function planChi(p: readonly boolean[], want: readonly (boolean | undefined)[]): ChiPlan {
  const masks = Array.from({ length: 32 }, (_, m) => m).sort((x, y) => popcount(x) - popcount(y))
  for (const m of masks) {
    const avail = (i: number): boolean[] => ((m >> i) & 1 ? [p[i]!, !p[i]!] : [p[i]!])
    const forms: ChiPlan['forms'] = []
    for (let j = 0; j < 5 && forms.length === j; j++) {
      if (want[j] === undefined) {
        forms.push({ w: false, u: false, v: false, or: false })
        continue
      }
      const i1 = (j + 1) % 5
      const i2 = (j + 2) % 5
      search: for (const w of avail(j)) {
        for (const u of avail(i1)) {
          for (const v of avail(i2)) {
            if (u === v) continue
            const or = !u
            if ((w !== or) !== want[j]) continue
            forms.push({ w: w !== p[j], u: u !== p[i1], v: v !== p[i2], or })
            break search
          }
        }
      }
    }
    if (forms.length === 5) return { negate: [0, 1, 2, 3, 4].filter((i) => (m >> i) & 1), forms }
  }
  throw new Error('unreachable: complementing every input allows every form')
}

function popcount(m: number): number {
  let n = 0
  for (; m; m &= m - 1) n++
  return n
}

/**
 * One round from s.a into s.e (then swapped). `zero`: lanes known zero on entry;
 * `want(lane)`: the polarity wanted for each output lane, undefined when unused.
 */
function emitRound(f: FuncBuilder, s: State, rc: bigint | number, zero: ReadonlySet<number>, want: (lane: number) => boolean | undefined): void {
  const dPol = emitTheta(f, s, zero)
  const outPol = new Array<boolean>(LANES).fill(false)
  for (let y = 0; y < 5; y++) {
    const wantRow = [0, 1, 2, 3, 4].map((x) => want(x + 5 * y))
    if (wantRow.every((w) => w === undefined)) continue
    // ρ and π for this row's five B values, θ's D folded in.
    const p: boolean[] = []
    for (let x = 0; x < 5; x++) {
      const lane = PI_SOURCE[x + 5 * y]!
      const col = lane % 5
      if (zero.has(lane)) f.get(s.d[col]!)
      else f.get(s.a[lane]!).get(s.d[col]!).op(Op.i64Xor)
      if (RHO[lane] !== 0) f.i64(BigInt(RHO[lane]!)).op(Op.i64Rotl)
      f.set(s.b[x]!)
      p.push((zero.has(lane) ? false : s.pol[lane]!) !== dPol[col])
    }
    const plan = planChi(p, wantRow)
    for (const i of plan.negate) {
      f.get(s.b[i]!).i64(U64).op(Op.i64Xor).set(s.nb[i]!)
      s.nots++
    }
    const val = (i: number, flip: boolean): number => (flip ? s.nb[i]! : s.b[i]!)
    for (let x = 0; x < 5; x++) {
      if (wantRow[x] === undefined) continue
      const fm = plan.forms[x]!
      f.get(val(x, fm.w)).get(val((x + 1) % 5, fm.u)).get(val((x + 2) % 5, fm.v)).op(fm.or ? Op.i64Or : Op.i64And).op(Op.i64Xor)
      if (x === 0 && y === 0) {
        if (typeof rc === 'bigint') f.i64(rc)
        else f.get(s.rc).mem(Op.i64Load, 3, RC_TABLE + 8 * rc)
        f.op(Op.i64Xor)
      }
      f.set(s.e[x + 5 * y]!)
      outPol[x + 5 * y] = wantRow[x]!
    }
  }
  ;[s.a, s.e] = [s.e, s.a]
  s.pol = outPol
}

/**
 * keccak-f[1600] on a one-block 76-byte message state in s.a (true polarity);
 * returns the locals holding hash lanes 0..3 (true polarity).
 */
function emitPermutation76(f: FuncBuilder, s: State): number[] {
  const zero = new Set<number>([10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23, 24])
  const none = new Set<number>()
  const steady = (lane: number): boolean => COMPLEMENTED.has(lane)
  s.pol.fill(false)
  emitRound(f, s, RC[0]!, zero, steady)
  const u = MIDDLE_UNROLL
  if (u === ROUNDS - 2) {
    for (let round = 1; round < ROUNDS - 1; round++) emitRound(f, s, RC[round]!, none, steady)
  } else {
    // Each iteration maps the steady pattern to itself and the lane sets back to
    // themselves (u is even), so the loop body is valid for every iteration.
    f.i32(0).set(s.rc)
    f.open(Op.loop)
    for (let j = 0; j < u; j++) emitRound(f, s, j, none, steady)
    f.get(s.rc).i32(8 * u).op(Op.i32Add).tee(s.rc).i32(8 * (ROUNDS - 2)).op(Op.i32LtU).br(Op.brIf, 0)
    f.op(Op.end)
  }
  emitRound(f, s, RC[ROUNDS - 1]!, none, (lane) => (lane < 4 ? false : undefined))
  return s.a.slice(0, 4)
}

const PAD_LANE_9 = 1n << 32n // 0x01 at byte 76 = byte 4 of lane 9
const PAD_LANE_16 = 1n << 63n // 0x80 at byte 135 = byte 7 of lane 16

/** Reverses the bytes of the i64 on the stack (wasm has no bswap); `t` is a scratch local. */
function emitBswap64(f: FuncBuilder, t: number): void {
  const m8 = 0x00ff00ff00ff00ffn
  const m16 = 0x0000ffff0000ffffn
  f.tee(t).i64(8n).op(Op.i64ShrU).i64(m8).op(Op.i64And)
  f.get(t).i64(m8).op(Op.i64And).i64(8n).op(Op.i64Shl).op(Op.i64Or)
  f.tee(t).i64(16n).op(Op.i64ShrU).i64(m16).op(Op.i64And)
  f.get(t).i64(m16).op(Op.i64And).i64(16n).op(Op.i64Shl).op(Op.i64Or)
  f.i64(32n).op(Op.i64Rotl)
}

/**
 * Loads lanes `fromLane`..9 of the preimage at local `ptr` (lanes before it are
 * already in s.a), adds the padding, runs the permutation and stores the 32-byte
 * hash at local `outPtr`.
 */
function emitHashFrom(f: FuncBuilder, s: State, ptr: number, fromLane: number, outPtr: number): void {
  for (let k = fromLane; k < 9; k++) f.get(ptr).mem(Op.i64Load, 0, 8 * k).set(s.a[k]!)
  f.get(ptr).mem(Op.i64Load32U, 0, 72).i64(PAD_LANE_9).op(Op.i64Or).set(s.a[9]!)
  f.i64(PAD_LANE_16).set(s.a[16]!)
  const h = emitPermutation76(f, s)
  for (let k = 0; k < 4; k++) f.get(outPtr).get(h[k]!).mem(Op.i64Store, 0, 8 * k)
}

/** hashBatch(inPtr, outPtr, n): n packed 76-byte preimages → n packed 32-byte hashes. */
function buildHashBatch(): FuncBuilder {
  const f = new FuncBuilder([ValType.i32, ValType.i32, ValType.i32], [])
  const [inPtr, outPtr, n] = [0, 1, 2]
  const s = declareState(f)
  f.open(Op.block).open(Op.loop)
  f.get(n).op(Op.i32Eqz).br(Op.brIf, 1)
  emitHashFrom(f, s, inPtr, 0, outPtr)
  lastNots = s.nots
  f.get(inPtr).i32(76).op(Op.i32Add).set(inPtr)
  f.get(outPtr).i32(32).op(Op.i32Add).set(outPtr)
  f.get(n).i32(1).op(Op.i32Sub).set(n)
  f.br(Op.br, 0)
  f.op(Op.end).op(Op.end)
  return f
}

/**
 * Decodes the 8 ASCII hex digits at addr+offset (either case; validated by the
 * caller) into the i64 left on the stack: their 4 bytes in the low 32 bits, first
 * pair lowest. Branch-free SWAR: a digit's value is (c & 0xf) + 9·bit6(c) — '0'..'9'
 * have bit 6 clear, 'a'..'f' and 'A'..'F' set. `t` is a scratch i64 local.
 */
function emitHex8(f: FuncBuilder, addr: number, offset: number, t: number): void {
  const ones = 0x0101_0101_0101_0101n
  f.get(addr).mem(Op.i64Load, 0, offset).tee(t).i64(0x0f0f_0f0f_0f0f_0f0fn).op(Op.i64And)
  f.get(t).i64(6n).op(Op.i64ShrU).i64(ones).op(Op.i64And).i64(9n).op(Op.i64Mul).op(Op.i64Add).tee(t)
  // Byte 2j ← (digit 2j << 4) | digit 2j+1, then the even bytes packed together.
  f.i64(4n).op(Op.i64Shl).get(t).i64(8n).op(Op.i64ShrU).op(Op.i64Or).i64(0x00ff_00ff_00ff_00ffn).op(Op.i64And).tee(t)
  f.get(t).i64(8n).op(Op.i64ShrU).op(Op.i64Or).i64(0x0000_ffff_0000_ffffn).op(Op.i64And).tee(t)
  f.get(t).i64(16n).op(Op.i64ShrU).op(Op.i64Or).i64(0xffff_ffffn).op(Op.i64And)
}

/**
 * hashTemplated(templatesPtr, templateCount, noncesPtr, whichPtr, outPtr, n) →
 * shares hashed: share i's preimage is template which[i] (76 bytes each, packed)
 * with bytes 4..11 being the nonce written as 16 ASCII hex digits at
 * noncesPtr + 16i; its hash goes to outPtr + 32i. The lanes are loaded straight
 * from the template and the digits, so no preimage is assembled in memory. Stops
 * at the first share naming a template ≥ templateCount and returns its index (n
 * when all were hashed).
 */
function buildHashTemplated(): FuncBuilder {
  const f = new FuncBuilder([ValType.i32, ValType.i32, ValType.i32, ValType.i32, ValType.i32, ValType.i32], [ValType.i32])
  const [tplPtr, tplCount, noncePtr, whichPtr, outPtr, n] = [0, 1, 2, 3, 4, 5]
  const s = declareState(f)
  const i = f.local(ValType.i32)
  const t = f.local(ValType.i32)
  const base = f.local(ValType.i32)
  const tmp = f.local(ValType.i64)
  f.open(Op.block).open(Op.loop)
  f.get(i).get(n).op(Op.i32GeU).br(Op.brIf, 1)
  f.get(whichPtr).get(i).op(Op.i32Add).mem(Op.i32Load8U, 0, 0).tee(t)
  f.get(tplCount).op(Op.i32GeU).br(Op.brIf, 1)
  f.get(t).i32(76).op(Op.i32Mul).get(tplPtr).op(Op.i32Add).set(base)
  // Lane 0: template bytes 0..3 (the block index), nonce bytes 0..3; lane 1: nonce bytes 4..7, template bytes 12..15.
  f.get(base).mem(Op.i64Load32U, 0, 0)
  emitHex8(f, noncePtr, 0, tmp)
  f.i64(32n).op(Op.i64Shl).op(Op.i64Or).set(s.a[0]!)
  emitHex8(f, noncePtr, 8, tmp)
  f.get(base).mem(Op.i64Load, 0, 8).i64(0xffff_ffff_0000_0000n).op(Op.i64And).op(Op.i64Or).set(s.a[1]!)
  emitHashFrom(f, s, base, 2, outPtr)
  f.get(noncePtr).i32(16).op(Op.i32Add).set(noncePtr)
  f.get(outPtr).i32(32).op(Op.i32Add).set(outPtr)
  f.get(i).i32(1).op(Op.i32Add).set(i)
  f.br(Op.br, 0)
  f.op(Op.end).op(Op.end)
  f.get(i)
  return f
}

/** meets(a0, a1, a2, a3) → 1 when the hash in these lanes is ≤ the target in memory. Off the hot path. */
function buildMeets(): FuncBuilder {
  const f = new FuncBuilder([ValType.i64, ValType.i64, ValType.i64, ValType.i64], [ValType.i32])
  const w = f.local(ValType.i64)
  const t = f.local(ValType.i64)
  const tmp = f.local(ValType.i64)
  for (let k = 0; k < 4; k++) {
    f.get(k)
    emitBswap64(f, tmp)
    f.set(w)
    f.i32(0).mem(Op.i64Load, 3, MEM.target + 8 * k).set(t)
    f.get(w).get(t).op(Op.i64LtU).open(Op.if).i32(1).op(Op.return).op(Op.end)
    f.get(w).get(t).op(Op.i64GtU).open(Op.if).i32(0).op(Op.return).op(Op.end)
  }
  f.i32(1)
  return f
}

/**
 * mine(startNonce, count) → hashes done. Hashes the template with nonces
 * startNonce, startNonce+1, … (wrapping at 2^64: the caller bounds count);
 * records each nonce whose hash ≤ target and stops early once foundMax are recorded.
 */
function buildMine(meetsIndex: number): FuncBuilder {
  const f = new FuncBuilder([ValType.i64, ValType.i32], [ValType.i32])
  const [nonce, count] = [0, 1]
  const s = declareState(f)
  const i = f.local(ValType.i32)
  const fc = f.local(ValType.i32)
  const addr = f.local(ValType.i32)
  const tmp = f.local(ValType.i64)
  const sw = f.local(ValType.i64)
  const idx = f.local(ValType.i64)
  const hi1 = f.local(ValType.i64)
  const t0 = f.local(ValType.i64)
  const k = Array.from({ length: 10 }, () => f.local(ValType.i64))
  const T = MEM.template
  f.i32(0).mem(Op.i64Load32U, 0, T).set(idx)
  f.i32(0).mem(Op.i64Load, 0, T + 8).i64(0xffff_ffff_0000_0000n).op(Op.i64And).set(hi1)
  for (let j = 2; j < 9; j++) f.i32(0).mem(Op.i64Load, 0, T + 8 * j).set(k[j]!)
  f.i32(0).mem(Op.i64Load32U, 0, T + 72).i64(PAD_LANE_9).op(Op.i64Or).set(k[9]!)
  f.i32(0).mem(Op.i64Load, 3, MEM.target).set(t0)
  f.open(Op.block).open(Op.loop)
  f.get(i).get(count).op(Op.i32GeU).br(Op.brIf, 1)
  // Nonce bytes 4..11 big-endian: bswap(nonce) = those 8 bytes as a little-endian word.
  f.get(nonce)
  emitBswap64(f, tmp)
  f.set(sw)
  f.get(idx).get(sw).i64(32n).op(Op.i64Shl).op(Op.i64Or).set(s.a[0]!)
  f.get(hi1).get(sw).i64(32n).op(Op.i64ShrU).op(Op.i64Or).set(s.a[1]!)
  for (let j = 2; j < 10; j++) f.get(k[j]!).set(s.a[j]!)
  f.i64(PAD_LANE_16).set(s.a[16]!)
  const h = emitPermutation76(f, s)
  // Fast reject on the first 8 hash bytes; the full compare is a call.
  f.get(h[0]!)
  emitBswap64(f, tmp)
  f.get(t0).op(Op.i64LeU).open(Op.if)
  f.get(h[0]!).get(h[1]!).get(h[2]!).get(h[3]!).call(meetsIndex).open(Op.if)
  f.i32(0).mem(Op.i32Load, 2, MEM.foundCount).tee(fc).i32(FOUND_RECORD_BYTES).op(Op.i32Mul).i32(MEM.found).op(Op.i32Add).set(addr)
  f.get(addr).get(nonce).mem(Op.i64Store, 0, 0)
  for (let j = 0; j < 4; j++) f.get(addr).get(h[j]!).mem(Op.i64Store, 0, 8 + 8 * j)
  f.i32(0).get(fc).i32(1).op(Op.i32Add).tee(fc).mem(Op.i32Store, 2, MEM.foundCount)
  f.get(fc).i32(0).mem(Op.i32Load, 2, MEM.foundMax).op(Op.i32GeU).open(Op.if)
  f.get(i).i32(1).op(Op.i32Add).op(Op.return)
  f.op(Op.end)
  f.op(Op.end)
  f.op(Op.end)
  f.get(nonce).i64(1n).op(Op.i64Add).set(nonce)
  f.get(i).i32(1).op(Op.i32Add).set(i)
  f.br(Op.br, 0)
  f.op(Op.end).op(Op.end)
  f.get(i)
  return f
}

/** The kernel module's bytes (about 60 KB). */
export function keccakKernelBytes(): Uint8Array {
  const MEETS = 3
  return encodeModule(
    [
      { name: 'hashBatch', fn: buildHashBatch() },
      { name: 'hashTemplated', fn: buildHashTemplated() },
      { name: 'mine', fn: buildMine(MEETS) },
      { name: null, fn: buildMeets() },
    ],
    1,
    [{ offset: RC_TABLE, bytes: rcTable() }],
  )
}

function rcTable(): Uint8Array {
  const out = new Uint8Array(8 * (ROUNDS - 2))
  const v = new DataView(out.buffer)
  for (let r = 1; r < ROUNDS - 1; r++) v.setBigUint64(8 * (r - 1), RC[r]!, true)
  return out
}

// @types/node 20 does not declare the WebAssembly global; this module-scoped
// declaration covers the three members the kernels use.
export interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
export interface WasmModule {
  readonly __wasmModule?: never
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule
  Instance: new (module: WasmModule, imports: object) => { readonly exports: unknown }
}

/** Instantiates a compiled kernel module (no imports). */
export function instantiateKernel(module: WasmModule): unknown {
  return new WebAssembly.Instance(module, {}).exports
}

/** Generates and compiles a fresh kernel module (synchronously: it is small). */
export function compileKernel(): WasmModule {
  return new WebAssembly.Module(keccakKernelBytes())
}

let compiled: WasmModule | undefined

/** The compiled module, built once per thread (synchronously: it is small). */
export function keccakKernelModule(): WasmModule {
  compiled ??= compileKernel()
  return compiled
}
