// grafana/kale-pool.json uses only metrics that exist: every metric name in
// every panel expression is looked up in the pool's registry (histograms by
// their _bucket/_sum/_count series).
import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { metrics } from '../../src/metrics/metrics.js'

const dashboard = JSON.parse(readFileSync(new URL('../../grafana/kale-pool.json', import.meta.url), 'utf8'))

interface Panel { id: number; type: string; title: string; targets?: { expr: string }[]; panels?: Panel[]; gridPos: { x: number; y: number; w: number; h: number } }

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])])
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan'])

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels, strings or durations. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges, subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
  const names = new Set<string>()
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0]
    const next = stripped.slice(m.index! + word.length).trimStart()
    if (next.startsWith('(')) continue // a function call
    if (KEYWORDS.has(word.toLowerCase())) continue
    if (/^\d/.test(stripped.slice(m.index! - 1, m.index!))) continue // 1e7's "e7"
    names.add(word)
  }
  return [...names]
}

async function registryNames(): Promise<Set<string>> {
  const out = new Set<string>()
  for (const m of await metrics().registry.getMetricsAsJSON()) {
    out.add(m.name)
    if (m.type === 'histogram' || m.type === 'summary') for (const s of ['_bucket', '_sum', '_count']) out.add(m.name + s)
  }
  return out
}

describe('grafana/kale-pool.json', () => {
  const panels = allPanels(dashboard.panels as Panel[])
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })))

  it('the extractor finds metric names and only metric names', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, op) (rate(kale_pool_chain_transaction_seconds_bucket{op="plant"}[5m])))')).toEqual(['kale_pool_chain_transaction_seconds_bucket'])
    expect(metricNames('sum(rate(a_total[$__rate_interval])) / sum(rate(b_total{x!="y z"}[5m])) / 1e7')).toEqual(['a_total', 'b_total'])
    expect(metricNames('increase(kale_pool_bans_total[1h])')).toEqual(['kale_pool_bans_total'])
  })

  it('is a dashboard: uid, title, a Prometheus datasource variable, unique panel ids, panels on the grid', () => {
    expect(dashboard.uid).toBe('kale-pool')
    expect(dashboard.templating.list[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' })
    const ids = panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24)
      if (p.type !== 'row') expect(p.targets?.length, p.title).toBeGreaterThan(0)
    }
  })

  it('every metric in every panel exists in the registry', async () => {
    const known = await registryNames()
    const unknown: string[] = []
    for (const { panel, expr } of exprs) {
      const names = metricNames(expr)
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0)
      for (const n of names) if (!known.has(n)) unknown.push(`${panel}: ${n}`)
    }
    expect(unknown).toEqual([])
  })

  it('a histogram is only queried through its series, and the issue list is covered', async () => {
    const used = new Set(exprs.flatMap((e) => metricNames(e.expr)))
    for (const name of [
      'kale_pool_accepted_difficulty_total', 'kale_pool_shares_total', 'kale_pool_sessions_connected', 'kale_pool_sessions_authorized',
      'kale_pool_verify_seconds_bucket', 'kale_pool_verify_queue_depth', 'kale_pool_notify_seconds_bucket', 'kale_pool_block_index',
      'kale_pool_block_age_seconds', 'kale_pool_pails_total', 'kale_pool_chain_transactions_total', 'kale_pool_chain_transaction_seconds_bucket',
      'kale_pool_chain_fees_stroops_total', 'kale_pool_rewards_stroops_total', 'kale_pool_fees_stroops_total', 'kale_pool_payouts_total',
      'kale_pool_payouts_stroops_total', 'kale_pool_db_flush_seconds_bucket', 'kale_pool_db_buffered_rows', 'kale_pool_bans_total',
    ]) expect(used.has(name), name).toBe(true)
    const histograms = (await metrics().registry.getMetricsAsJSON()).filter((m) => m.type === 'histogram').map((m) => m.name)
    for (const h of histograms) expect(used.has(h), `${h} used bare`).toBe(false)
  })

  it('a name that is not in the registry is caught', async () => {
    const known = await registryNames()
    expect(metricNames('rate(kale_pool_no_such_thing_total[5m])').every((n) => known.has(n))).toBe(false)
  })
})
