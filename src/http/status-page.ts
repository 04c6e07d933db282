// The pool's small status page (GET /): what a miner or operator wants at a
// glance, rendered on the server from the same PoolView as the JSON API. Static
// HTML, no script; every value is escaped.
import type { BlockRow, PoolSummary } from './view.js'
import { stroopsToKale } from '../kale/reward.js'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

const UNITS = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s', 'PH/s']

export function formatHashrate(hps: number): string {
  let v = Number.isFinite(hps) && hps > 0 ? hps : 0
  let u = 0
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000
    u++
  }
  return `${v.toFixed(u === 0 ? 0 : 2)} ${UNITS[u]}`
}

const row = (k: string, v: string): string => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`

export function renderStatusPage(pool: PoolSummary, blocks: readonly BlockRow[]): string {
  const b = pool.block
  const summary = [
    row('Hashrate (10 min)', formatHashrate(pool.hashrate10m)),
    row('Sessions', `${pool.sessions.authorized} authorized / ${pool.sessions.connected} connected`),
    row('Miners / workers (10 min)', `${pool.miners} / ${pool.workers}`),
    row('Farmer accounts', `${pool.farmers.active} active / ${pool.farmers.total}`),
    row('Current block', b ? `${b.index} (open ${b.ageSeconds} s)` : 'none yet'),
    row('Fee', `${pool.feePercent} %`),
    row('Payout scheme', pool.scheme === 'pplns' ? `PPLNS over ${pool.pplnsBlocks ?? '?'} blocks` : 'PROP per block'),
    row('Payout threshold', `${stroopsToKale(pool.payoutThresholdStroops)} KALE`),
    row('Paid to miners', `${stroopsToKale(pool.paidStroops)} KALE`),
  ].join('')
  const rows = blocks
    .map((x) => `<tr><td>${x.index}</td><td>${x.planted}/${x.worked}/${x.harvested}</td><td>${x.bestZeros ?? '–'}</td><td>${x.shares}</td><td>${escapeHtml(stroopsToKale(x.rewardStroops))}</td><td>${escapeHtml(stroopsToKale(x.feeStroops))}</td></tr>`)
    .join('')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>kale-pool</title>
<style>body{font:15px/1.4 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#1d2b1d}
table{border-collapse:collapse;margin:1em 0}th,td{padding:.25em .8em;text-align:left;border-bottom:1px solid #dde5dd}
th{font-weight:600}code{background:#eef3ee;padding:.1em .3em}h1{color:#2f6b2f}</style></head>
<body><h1>kale-pool</h1>
<p>A mining pool for KALE on Stellar. Mine with any KALE Stratum client, username = your Stellar address (<code>G…[.worker]</code>); it needs a KALE trustline to receive payouts.</p>
<table>${summary}</table>
<h2>Recent blocks</h2>
<table><tr><th>Block</th><th>Planted/worked/harvested</th><th>Best zeros</th><th>Shares</th><th>Reward (KALE)</th><th>Fee (KALE)</th></tr>${rows}</table>
<p>Your stats: <code>/api/miners/&lt;your address&gt;</code>. JSON: <code>/api/pool</code>, <code>/api/blocks</code>, <code>/api/farmers</code>. Metrics: <code>/metrics</code>. Health: <code>/health</code>.</p>
</body></html>
`
}
