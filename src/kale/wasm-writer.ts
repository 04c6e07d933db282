// A minimal WebAssembly binary writer: just what the keccak kernels need
// (i32/i64 integer ops, locals, blocks, loops, one exported memory). It lets the
// kernels be generated at load time from TypeScript: no toolchain, no committed
// binary, and the generated code is plain data the tests can exercise.

export const Op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Load8U: 0x2d,
  i64Load32U: 0x35,
  i32Store: 0x36,
  i64Store: 0x37,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i64Eq: 0x51,
  i64LtU: 0x54,
  i64GtU: 0x56,
  i64LeU: 0x58,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i64Add: 0x7c,
  i64Mul: 0x7e,
  i64And: 0x83,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrU: 0x88,
  i64Rotl: 0x89,
} as const

export const ValType = { i32: 0x7f, i64: 0x7e } as const
export type ValType = (typeof ValType)[keyof typeof ValType]
const BLOCK_EMPTY = 0x40

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
}

function sleb(n: bigint, out: number[]): void {
  for (;;) {
    const b = Number(n & 0x7fn)
    n >>= 7n
    const done = (n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0)
    out.push(done ? b : b | 0x80)
    if (done) return
  }
}

/** The body of one function: an instruction stream plus its declared locals. */
export class FuncBuilder {
  readonly code: number[] = []
  private readonly localTypes: ValType[] = []

  constructor(readonly params: readonly ValType[], readonly results: readonly ValType[]) {}

  /** Declares a local and returns its index (after the parameters). */
  local(type: ValType): number {
    this.localTypes.push(type)
    return this.params.length + this.localTypes.length - 1
  }

  op(code: number): this {
    this.code.push(code)
    return this
  }

  get(i: number): this {
    this.code.push(Op.localGet)
    uleb(i, this.code)
    return this
  }

  set(i: number): this {
    this.code.push(Op.localSet)
    uleb(i, this.code)
    return this
  }

  tee(i: number): this {
    this.code.push(Op.localTee)
    uleb(i, this.code)
    return this
  }

  i32(n: number): this {
    this.code.push(Op.i32Const)
    sleb(BigInt(n | 0), this.code)
    return this
  }

  /** i64 constant given as an unsigned or signed 64-bit bigint. */
  i64(n: bigint): this {
    this.code.push(Op.i64Const)
    sleb(BigInt.asIntN(64, n), this.code)
    return this
  }

  /** A memory access: opcode, alignment (log2) and a constant offset. */
  mem(code: number, alignLog2: number, offset: number): this {
    this.code.push(code)
    uleb(alignLog2, this.code)
    uleb(offset, this.code)
    return this
  }

  /** block / loop / if with an empty block type. */
  open(code: typeof Op.block | typeof Op.loop | typeof Op.if): this {
    this.code.push(code, BLOCK_EMPTY)
    return this
  }

  br(code: typeof Op.br | typeof Op.brIf, depth: number): this {
    this.code.push(code)
    uleb(depth, this.code)
    return this
  }

  call(funcIndex: number): this {
    this.code.push(Op.call)
    uleb(funcIndex, this.code)
    return this
  }

  /** The function body as the code section wants it (locals run-length encoded). */
  encode(): number[] {
    const body: number[] = []
    const runs: [number, ValType][] = []
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1]
      if (last && last[1] === t) last[0]++
      else runs.push([1, t])
    }
    uleb(runs.length, body)
    for (const [count, type] of runs) {
      uleb(count, body)
      body.push(type)
    }
    body.push(...this.code, Op.end)
    const out: number[] = []
    uleb(body.length, out)
    for (const b of body) out.push(b)
    return out
  }
}

function section(id: number, content: number[], out: number[]): void {
  out.push(id)
  uleb(content.length, out)
  for (const b of content) out.push(b)
}

function name(s: string, out: number[]): void {
  const bytes = Buffer.from(s, 'utf8')
  uleb(bytes.length, out)
  out.push(...bytes)
}

/** A module of functions (exported by name, or internal when name is null) and one exported memory. */
export function encodeModule(
  funcs: readonly { name: string | null; fn: FuncBuilder }[],
  memoryPagesMin: number,
  data: readonly { offset: number; bytes: Uint8Array }[] = [],
): Uint8Array {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
  const types: number[] = []
  uleb(funcs.length, types)
  for (const { fn } of funcs) {
    types.push(0x60)
    uleb(fn.params.length, types)
    types.push(...fn.params)
    uleb(fn.results.length, types)
    types.push(...fn.results)
  }
  section(1, types, out)
  const fnsec: number[] = []
  uleb(funcs.length, fnsec)
  funcs.forEach((_, i) => uleb(i, fnsec))
  section(3, fnsec, out)
  const mem: number[] = [1, 0x00]
  uleb(memoryPagesMin, mem)
  section(5, mem, out)
  const exports: number[] = []
  const named = funcs.map((f, i) => [f.name, i] as const).filter((e): e is readonly [string, number] => e[0] !== null)
  uleb(named.length + 1, exports)
  for (const [n, i] of named) {
    name(n, exports)
    exports.push(0x00)
    uleb(i, exports)
  }
  name('memory', exports)
  exports.push(0x02, 0x00)
  section(7, exports, out)
  const code: number[] = []
  uleb(funcs.length, code)
  for (const { fn } of funcs) code.push(...fn.encode())
  section(10, code, out)
  if (data.length > 0) {
    const seg: number[] = []
    uleb(data.length, seg)
    for (const d of data) {
      seg.push(0x00, Op.i32Const)
      sleb(BigInt(d.offset), seg)
      seg.push(Op.end)
      uleb(d.bytes.length, seg)
      for (const b of d.bytes) seg.push(b)
    }
    section(11, seg, out)
  }
  return Uint8Array.from(out)
}
