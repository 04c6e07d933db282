// A live /metrics scrape checked by Debian's `promtool check metrics` (package
// `prometheus`). Where promtool is missing the test says so loudly and still
// checks the exposition format itself, so it never passes on nothing.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import { startHttpServer, type HttpServer } from '../../src/http/server.js'
import { metrics } from '../../src/metrics/metrics.js'
import { silentLogger } from '../../src/log.js'
import { MemoryView } from '../http/memory-view.js'

/** prom-client's default Node metrics that promtool's linter dislikes (gauges named *_total); not ours to rename. */
const DEFAULT_METRIC = /^(nodejs_|process_)/

function promtool(input: string): { status: number | null; output: string; missing?: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input, encoding: 'utf8', timeout: 20_000 })
  if (r.error) return { status: null, output: '', missing: (r.error as NodeJS.ErrnoException).code ?? String(r.error) }
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

/** Minimal exposition-format check (NaN in any case, as Go's ParseFloat and prom-client's "Nan"): every sample's family has HELP and TYPE first; names, labels and values parse. */
function checkExposition(text: string): string[] {
  const problems: string[] = []
  const typed = new Map<string, string>()
  const helped = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
    if (meta) {
      if (meta[1] === 'HELP') helped.add(meta[2]!)
      else typed.set(meta[2]!, meta[3]!)
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.eE+-]+|[Nn][Aa][Nn]|[+-][Ii]nf)( \d+)?$/.exec(line)
    if (!sample) {
      problems.push(`unparsable: ${line}`)
      continue
    }
    const family = sample[1]!.replace(/_(bucket|sum|count)$/, '')
    if (!typed.has(sample[1]!) && !typed.has(family)) problems.push(`no TYPE before ${sample[1]}`)
    if (!helped.has(sample[1]!) && !helped.has(family)) problems.push(`no HELP before ${sample[1]}`)
  }
  return problems
}

let server: HttpServer
beforeAll(async () => {
  const m = metrics()
  // Give every kind of metric some samples, labelled ones included.
  m.sharesTotal.labels('accepted').inc(3)
  m.acceptedDifficultyTotal.inc(65536 * 3)
  m.verifySeconds.observe(0.0012)
  m.chainTxTotal.labels('plant', 'ok').inc()
  m.chainTxSeconds.labels('plant').observe(1.2)
  m.chainFeesStroopsTotal.labels('plant').inc(12345)
  m.blockIndex.set(42)
  m.blockOpenedSeconds.set(Date.now() / 1000 - 30)
  m.connectionsRefusedTotal.labels('per_ip').inc()
  server = await startHttpServer({ host: '127.0.0.1', port: 0, view: new MemoryView(), metrics: m, logger: silentLogger() })
})
afterAll(() => server.close())

describe('live /metrics', () => {
  it('passes promtool check metrics (only prom-client default-metric lint allowed)', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    expect(checkExposition(text)).toEqual([])
    expect(text).toMatch(/^kale_pool_block_age_seconds (2\d|3\d)\.?\d*$/m)
    const r = promtool(text)
    if (r.missing !== undefined) {
      console.warn(`\n*** promtool NOT RUN: ${r.missing}. Install it with \`apt-get install -y prometheus\`; only the built-in exposition check ran. ***\n`)
      return
    }
    // 0 = clean; 3 = lint findings only. 1 = parse error.
    expect([0, 3], r.output).toContain(r.status)
    const findings = r.output.split('\n').filter((l) => l.trim() !== '')
    const ours = findings.filter((l) => !DEFAULT_METRIC.test(l))
    expect(ours).toEqual([])
  })

  it('promtool and the built-in check both catch broken exposition', () => {
    const broken = '# HELP kale_pool_x x\n# TYPE kale_pool_x gauge\nkale_pool_x{a="b" 1\n'
    expect(checkExposition(broken)).toHaveLength(1)
    expect(checkExposition('kale_pool_y 1\n')).toEqual(['no TYPE before kale_pool_y', 'no HELP before kale_pool_y'])
    const r = promtool(broken)
    if (r.missing !== undefined) {
      console.warn(`\n*** promtool NOT RUN (${r.missing}): cannot check that it rejects broken input. ***\n`)
      return
    }
    expect(r.status).toBe(1)
    expect(r.output).toMatch(/parsing error/)
    const lint = promtool('# TYPE kale_pool_z counter\nkale_pool_z 1\n')
    expect(lint.status).toBe(3)
    expect(lint.output).toMatch(/kale_pool_z/)
  })
})
