// Small helpers every benchmark shares: medians, percentiles, output.
export function median(xs: readonly number[]): number {
  return percentile(xs, 50)
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))
  return s[i]!
}

/** Prints a result: one JSON line with --json, otherwise aligned text. */
export function report(argv: readonly string[], name: string, result: Record<string, unknown>): void {
  if (argv.includes('--json')) {
    process.stdout.write(JSON.stringify({ bench: name, ...result }) + '\n')
    return
  }
  process.stdout.write(`# bench ${name}\n`)
  for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(32)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`)
}
