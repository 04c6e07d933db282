// The logger never writes secrets: S… seeds, master keys, tokens, database URLs
// with passwords — in fields at any depth, in messages, in errors and their
// causes, in child bindings.
import { describe, it, expect } from 'vitest'
import { Writable } from 'node:stream'
import { spawnSync } from 'node:child_process'
import { createLogger, scrub, scrubString, registerSecrets } from '../src/log.js'
import { PoolError, ErrorCode } from '../src/errors.js'

const SEED = 'SCXUJYCJBHPZOFIVGX65QXOOH6DOJMDGDXYSBBBHEADCVLZQDX7MJJAX'
const SEED2 = 'SA6Q4HCJOXN736PYV2IZIQSIZQGMYEBYKENBVPKQLVXNIMCB2IJGVHW3'
const MASTER = 'a3f1c2d4e5b60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00'
const TOKEN = 'tok-7c0ffee-super-secret-admin'
const PASSWORD = 'hunter2-pw'
const DB_URL = `postgres://pool:${PASSWORD}@db.internal:5432/kale`
const SECRETS = [SEED, SEED2, MASTER, TOKEN, PASSWORD]

function capture(level = 'trace') {
  const lines: string[] = []
  const dest = new Writable({ write(chunk, _enc, cb) { lines.push(chunk.toString()); cb() } })
  return { logger: createLogger(level, dest), lines, text: () => lines.join('') }
}

function expectClean(text: string) {
  for (const s of SECRETS) expect(text).not.toContain(s)
}

describe('log redaction', () => {
  it('secret keys at any depth are censored', () => {
    const { logger, text } = capture()
    logger.info({ secret: SEED, masterKey: MASTER, adminToken: TOKEN, databaseUrl: DB_URL, farmer: { seed: SEED2, nested: { deeper: { fundingSecret: SEED } } }, config: { MASTER_KEY: MASTER, ADMIN_TOKEN: TOKEN, DATABASE_URL: DB_URL, password: PASSWORD } }, 'config loaded')
    expectClean(text())
    const line = JSON.parse(text())
    expect(line.msg).toBe('config loaded')
    expect(line.farmer.seed).toBe('[redacted]')
  })

  it('seeds, URL passwords and bearer tokens inside free text are scrubbed', () => {
    const { logger, text } = capture()
    logger.warn({ note: `account ${SEED} failed`, url: DB_URL, header: `Bearer ${TOKEN}`, list: [SEED2, { x: DB_URL }] }, `message with ${SEED} and ${DB_URL} and Authorization: Bearer ${TOKEN}`)
    logger.info('printf %s and %s', SEED, DB_URL)
    expectClean(text())
    const lines = text().trim().split('\n').map((l) => JSON.parse(l))
    expect(lines[0].url).toBe('postgres://pool:[redacted]@db.internal:5432/kale')
    expect(lines[1].msg).toBe('printf [redacted] and postgres://pool:[redacted]@db.internal:5432/kale')
  })

  it('errors: message, stack, details and cause chain are scrubbed; code kept', () => {
    const { logger, text } = capture()
    const cause = new Error(`connect failed for ${DB_URL}`)
    const err = new PoolError(ErrorCode.DATABASE_UNAVAILABLE, `cannot reach ${DB_URL}`, { seed: SEED, url: DB_URL }, { cause })
    logger.error({ err }, 'db down')
    logger.error(err)
    logger.error(new Error(`leaked ${SEED2}`))
    logger.error({ error: new Error(`via Bearer ${TOKEN}`) }, 'x')
    expectClean(text())
    const lines = text().trim().split('\n').map((l) => JSON.parse(l))
    expect(lines[0].err.code).toBe('DATABASE_UNAVAILABLE')
    expect(lines[0].err.type).toBe('PoolError')
    expect(lines[0].err.cause.message).toBe('connect failed for postgres://pool:[redacted]@db.internal:5432/kale')
    expect(lines[1].err.code).toBe('DATABASE_UNAVAILABLE')
    expect(lines[2].msg).toBe('leaked [redacted]')
  })

  it('child bindings are scrubbed; the child logger carries its session fields', () => {
    const { logger, text } = capture()
    const child = logger.child({ session: 'abc123', ip: '10.0.0.1', token: TOKEN })
    child.info({ seedPhrase: SEED }, 'authorized')
    child.child({ worker: 'rig1', note: `Bearer ${TOKEN}` }).info('grandchild')
    expectClean(text())
    const [line, grand] = text().trim().split('\n').map((l) => JSON.parse(l))
    expect(line).toMatchObject({ session: 'abc123', ip: '10.0.0.1', name: 'kale-pool', token: '[redacted]' })
    expect(grand).toMatchObject({ session: 'abc123', worker: 'rig1', msg: 'grandchild' })
  })

  it('cyclic, deep and huge values are bounded, bigints written as strings', () => {
    const a: any = { n: 1n }
    a.self = a
    let deep: any = { seed: SEED }
    for (let i = 0; i < 50; i++) deep = { d: deep }
    const out = scrub({ a, deep, many: Array.from({ length: 5000 }, (_, i) => i), bytes: new Uint8Array(32) }) as any
    expect(out.a.self).toBe('[circular]')
    expect(out.a.n).toBe('1')
    expect(JSON.stringify(out.deep)).toContain('[too deep]')
    expect(out.many).toHaveLength(200)
    expect(out.bytes).toBe('[32 bytes]')
    expect(scrubString('x'.repeat(100_000)).length).toBeLessThan(17_000)
  })

  it('scrubbing hostile text stays linear (no regex backtracking blow-up)', () => {
    const t0 = performance.now()
    for (const s of ['a'.repeat(16_384), 'a://' + 'b'.repeat(16_000), 'a://b:' + 'c'.repeat(16_000), 'S'.repeat(16_384), 'bearer '.repeat(2000)]) scrubString(s)
    expect(performance.now() - t0).toBeLessThan(100)
  })

  it('what is not secret is kept: G-addresses, tx hashes, plain URLs', () => {
    const g = 'GAYZH5U72H2YQEFB7SETU23UN4D4KROAZX54Q4EWMIDY3XIQZCXKOIVI'
    const hash = 'ab'.repeat(32)
    expect(scrub({ payout: g, txHash: hash, rpc: 'https://rpc.example/soroban' })).toEqual({ payout: g, txHash: hash, rpc: 'https://rpc.example/soroban' })
  })

  it('registered secrets (the config values) are censored verbatim anywhere, even without a marker', () => {
    const { logger, text } = capture()
    registerSecrets([TOKEN, MASTER, DB_URL, undefined, 'abc'])
    logger.info({ note: `plain ${TOKEN} and ${MASTER}`, p: `pw=${PASSWORD}` }, `msg ${TOKEN}`)
    logger.error({ error: new Error(`token ${TOKEN} via Bearer ${TOKEN}`) }, 'x')
    expectClean(text())
    // too short to register: ordinary text stays readable
    expect(scrubString('abc')).toBe('abc')
  })

  it('levels: below LOG_LEVEL nothing is written', () => {
    const { logger, lines } = capture('warn')
    logger.info('hidden')
    logger.debug({ seed: SEED }, 'hidden')
    logger.warn('shown')
    expect(lines).toHaveLength(1)
  })

  it('on a TTY (script(1) gives the child one), lines are human-readable and still scrubbed', () => {
    const script = `import { createLogger } from './dist/log.js'; createLogger('info').info({ seed: '${SEED}', n: 1 }, 'hello tty')`
    const r = spawnSync('script', ['-qec', `${process.execPath} --input-type=module -e "${script}"`, '/dev/null'], { encoding: 'utf8', timeout: 10_000 })
    if (r.error) {
      console.warn(`*** TTY logging NOT checked: script(1) unavailable (${String(r.error)}) ***`)
      return
    }
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/INFO.*\(kale-pool\).*hello tty/)
    expect(r.stdout).not.toMatch(/^\{"level"/m)
    expect(r.stdout).toContain('[redacted]')
    expect(r.stdout).not.toContain(SEED)
  })

  it('without a destination and no TTY, JSON lines go to stdout', () => {
    const script = `import { createLogger } from './dist/log.js'; const l = createLogger('info'); l.info({ seed: '${SEED}' }, 'hello'); l.flush()`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 })
    expect(r.status).toBe(0)
    const line = JSON.parse(r.stdout.trim())
    expect(line).toMatchObject({ level: 30, msg: 'hello', seed: '[redacted]' })
    expect(r.stdout).not.toContain(SEED)
  })
})

describe('the start banner', () => {
  it('shows the RPC URL without user, password, path or query (providers put API keys there)', async () => {
    const { withoutCredentials } = await import('../src/commands/start.js')
    expect(withoutCredentials('https://user:apikey@rpc.example.com:8443/v1?api_key=XYZ')).toBe('https://rpc.example.com:8443/…?…')
    expect(withoutCredentials('https://rpc.example.com/v1/SECRETKEY123')).toBe('https://rpc.example.com/…')
    expect(withoutCredentials('http://127.0.0.1:8000/')).toBe('http://127.0.0.1:8000/')
    expect(withoutCredentials('not a url')).toBe('(unparsable URL)')
  })
})
