// Newcomer (issue 8): follow the README's quickstart in a fresh clone — install,
// start, point the reference miner at the pool — and see an accepted share and
// a harvested block. Ports are picked free and the devnet clock is fast; every
// command is the README's own.
import { afterAll, describe, expect, it } from 'vitest'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT, tempDir, freePort, waitFor, getJson } from './harness.js'

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const MINER_ADDRESS = 'GBQHTQ7NTSKHVTSVM6EHUO3TU4P4BK2TAAII25V2TT2Q6OWXUJWEKALE'

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): { child: ChildProcess; out: string[] } {
  const out: string[] = []
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env, CI: '' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  for (const s of [child.stdout!, child.stderr!]) {
    s.setEncoding('utf8')
    s.on('data', (d: string) => out.push(d))
  }
  return { child, out }
}

function killGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child?.pid || child.exitCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

describe('README quickstart on a fresh clone', () => {
  let start: ReturnType<typeof run> | undefined
  let mine: ReturnType<typeof run> | undefined

  afterAll(async () => {
    killGroup(mine?.child, 'SIGTERM')
    killGroup(start?.child, 'SIGTERM')
    await new Promise((r) => setTimeout(r, 3000))
    killGroup(mine?.child, 'SIGKILL')
    killGroup(start?.child, 'SIGKILL')
  })

  it('documents the commands this test runs', () => {
    expect(README).toContain('npm install')
    expect(README).toContain('npm start')
    expect(README).toContain(`npx kale-pool mine --url stratum+tcp://127.0.0.1:3333 --user ${MINER_ADDRESS}`)
  })

  it('installs, starts, mines an accepted share and harvests a block', async () => {
    const dir = path.join(tempDir('kale-newcomer-'), 'kale-pool')
    execFileSync('git', ['clone', '--quiet', '--depth', '1', `file://${ROOT}`, dir], { stdio: 'inherit' })
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, stdio: 'inherit', timeout: 600_000 })
    const [stratum, http, devnet] = [await freePort(), await freePort(), await freePort()]
    start = run('npm', ['start'], dir, { STRATUM_PORT: String(stratum), HTTP_PORT: String(http), DEVNET_PORT: String(devnet), DEVNET_LEDGER_MS: '150', DIFFICULTY_START: '65536', VARDIFF_TARGET_SECONDS: '1' })
    await waitFor('"kale-pool is running"', 120_000, () => start!.out.join('').includes('kale-pool is running'), 200)
    const guide = /quick guide: (npx kale-pool mine --url (\S+) --user)/.exec(start.out.join(''))
    expect(guide?.[2]).toBe(`stratum+tcp://127.0.0.1:${stratum}`)
    mine = run('npx', ['kale-pool', 'mine', '--url', `stratum+tcp://127.0.0.1:${stratum}`, '--user', `${MINER_ADDRESS}.rig1`, '--threads', '1', '--report-seconds', '1'], dir)
    await waitFor('an accepted share', 120_000, () => /accepted [1-9]/.test(mine!.out.join('')), 500)
    await waitFor('a harvested block', 120_000, async () => {
      const { body } = await getJson<{ blocks: Array<{ harvested: number }> }>(`http://127.0.0.1:${http}/api/blocks?limit=10`)
      return body.blocks.some((b) => b.harvested > 0)
    }, 1000)
  }, 900_000)
})
