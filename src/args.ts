// Tiny argv parser for the kale-pool subcommands: `--name value`, `--flag`,
// positionals. Errors are PoolError(ARGUMENT_INVALID) whose message names the
// argument; cli.ts prints it on one line and exits 2.
import { PoolError, ErrorCode } from './errors.js'

export interface ParsedArgs {
  flags: Map<string, string | true>
  positionals: string[]
}

/** `booleans` lists flags that take no value. */
export function parseArgs(argv: readonly string[], known: readonly string[], booleans: readonly string[] = []): ParsedArgs {
  const flags = new Map<string, string | true>()
  const positionals: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('--')) {
      positionals.push(a)
      continue
    }
    let name = a.slice(2)
    let value: string | undefined
    const eq = name.indexOf('=')
    if (eq >= 0) {
      value = name.slice(eq + 1)
      name = name.slice(0, eq)
    }
    if (!known.includes(name) && !booleans.includes(name)) throw argError(`unknown option --${name}`)
    if (booleans.includes(name)) {
      flags.set(name, true)
      continue
    }
    if (value === undefined) {
      value = argv[++i]
      if (value === undefined || value.startsWith('--')) throw argError(`--${name} needs a value`)
    }
    flags.set(name, value)
  }
  return { flags, positionals }
}

export function argError(message: string): PoolError {
  return new PoolError(ErrorCode.ARGUMENT_INVALID, message)
}

export function stringFlag(args: ParsedArgs, name: string, def?: string): string {
  const v = args.flags.get(name)
  if (v === undefined || v === true) {
    if (def === undefined) throw argError(`--${name} is required`)
    return def
  }
  return v
}

export function intFlag(args: ParsedArgs, name: string, min: number, max: number, def?: number): number {
  const raw = args.flags.get(name)
  if (raw === undefined) {
    if (def === undefined) throw argError(`--${name} is required`)
    return def
  }
  const n = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw argError(`--${name} must be an integer ${min}..${max}`)
  return n
}

const DECIMAL_RE = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

export function numberFlag(args: ParsedArgs, name: string, min: number, max: number, def?: number): number {
  const raw = args.flags.get(name)
  if (raw === undefined) {
    if (def === undefined) throw argError(`--${name} is required`)
    return def
  }
  // Decimal only: Number() would also take "0x10", "0b1" and " 1 ".
  const n = typeof raw === 'string' && DECIMAL_RE.test(raw) ? Number(raw) : NaN
  if (!Number.isFinite(n) || n < min || n > max) throw argError(`--${name} must be a number ${min}..${max}`)
  return n
}
