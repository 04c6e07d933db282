import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { loadConfig, SPEC, SECRET_VARS, camel, type VarName } from '../src/config.js'
import { isPoolError } from '../src/errors.js'

type Env = Record<string, string | undefined>
const MAINNET: Env = {
  KALE_NETWORK: 'mainnet',
  STELLAR_RPC_URL: 'https://rpc.example.org',
  MASTER_KEY: 'ab'.repeat(32),
  FUNDING_SECRET: 'S' + 'A'.repeat(55),
  DATABASE_URL: 'postgres://pool@db.example.org/kale',
}

function messageOf(env: Env): string {
  try {
    loadConfig(env)
  } catch (err) {
    expect(isPoolError(err, 'CONFIG_INVALID')).toBe(true)
    return (err as Error).message
  }
  throw new Error(`no error for ${JSON.stringify(env)}`)
}

/** Values each kind must refuse, with the message SPEC promises. */
function badValues(name: VarName): { value: string; message: string }[] {
  const spec = SPEC[name] as (typeof SPEC)[VarName] & { min?: number; max?: number; values?: readonly string[]; hint?: string; pattern?: RegExp }
  switch (spec.kind) {
    case 'int': {
      const m = `${name} must be an integer ${spec.min}..${spec.max}`
      return ['abc', '1.5', '0x10', '1e3', String(spec.min! - 1), String(spec.max! + 1), '9'.repeat(30), '  '].map((value) => ({ value, message: m }))
    }
    case 'number': {
      const m = `${name} must be a number ${spec.min}..${spec.max}`
      return ['abc', 'NaN', 'Infinity', '1..2', String(spec.min! - 1), String(spec.max! * 2), '  '].map((value) => ({ value, message: m }))
    }
    case 'enum':
      return ['bogus', spec.values![0]!.toUpperCase(), '  '].map((value) => ({ value, message: `${name} must be one of ${spec.values!.join(', ')}` }))
    case 'string': {
      const out = [{ value: '   ', message: `${name} must not be empty` }]
      if (spec.pattern) out.push({ value: 'not valid at all', message: `${name} must be ${spec.hint}` })
      return out
    }
  }
}

describe('loadConfig', () => {
  it('gives the defaults for an empty environment, frozen', () => {
    const c = loadConfig({})
    expect(Object.isFrozen(c)).toBe(true)
    expect(c.kaleNetwork).toBe('devnet')
    expect(c.stratumPort).toBe(3333)
    expect(c.httpPort).toBe(8080)
    expect(c.difficultyStart).toBe(65536)
    expect(c.difficultyMax).toBe(2 ** 40)
    expect(c.extranonce1Bytes).toBe(3)
    expect(c.payoutScheme).toBe('prop')
    expect(c.logLevel).toBe('info')
    expect(c.dataDir).toBe('./data')
    expect(c.stellarRpcUrl).toBeUndefined()
    expect(c.databaseUrl).toBeUndefined()
    expect(() => {
      ;(c as unknown as Record<string, unknown>).stratumPort = 1
    }).toThrow(TypeError)
  })

  it('has a value or undefined for every SPEC variable, defaults parsed', () => {
    const c = loadConfig({}) as unknown as Record<string, unknown>
    for (const [name, spec] of Object.entries(SPEC)) {
      const key = camel(name)
      expect(key in c).toBe(true)
      if (spec.default === undefined) continue
      expect(c[key]).toBe(spec.kind === 'int' || spec.kind === 'number' ? Number(spec.default) : spec.default)
    }
  })

  it('FARMERS defaults to 4 on devnet and 0 elsewhere; an explicit value wins', () => {
    expect(loadConfig({}).farmers).toBe(4)
    expect(loadConfig({ KALE_NETWORK: 'testnet', STELLAR_RPC_URL: 'https://x.example', MASTER_KEY_FILE: '/k' }).farmers).toBe(0)
    expect(loadConfig({ ...MAINNET, FUNDING_SECRET: undefined }).farmers).toBe(0)
    expect(loadConfig({ FARMERS: '0' }).farmers).toBe(0)
    expect(loadConfig({ FARMERS: '12' }).farmers).toBe(12)
  })

  it('parses and trims valid values; an empty string means unset', () => {
    const c = loadConfig({ STRATUM_PORT: ' 4444 ', VARDIFF_TARGET_SECONDS: '2.5', POOL_FEE_PERCENT: '1e-1', LOG_LEVEL: 'debug', HTTP_PORT: '' })
    expect(c.stratumPort).toBe(4444)
    expect(c.vardiffTargetSeconds).toBe(2.5)
    expect(c.poolFeePercent).toBe(0.1)
    expect(c.logLevel).toBe('debug')
    expect(c.httpPort).toBe(8080)
  })

  it('pins the exact wording of representative messages', () => {
    expect(messageOf({ STRATUM_PORT: '70000' })).toBe('STRATUM_PORT must be an integer 0..65535')
    expect(messageOf({ KALE_NETWORK: 'moon' })).toBe('KALE_NETWORK must be one of devnet, testnet, mainnet')
    expect(messageOf({ POOL_FEE_PERCENT: '101' })).toBe('POOL_FEE_PERCENT must be a number 0..100')
    expect(messageOf({ STELLAR_RPC_URL: 'ftp://x' })).toBe('STELLAR_RPC_URL must be an http(s) URL')
    expect(messageOf({ MASTER_KEY: 'zz' })).toBe('MASTER_KEY must be 64 hex digits')
    expect(messageOf({ DATABASE_URL: 'mysql://x' })).toBe('DATABASE_URL must be a postgres:// URL')
    expect(messageOf({ ADMIN_TOKEN: 'short' })).toBe('ADMIN_TOKEN must be at least 16 printable ASCII characters, no spaces (HTTP headers carry no other)')
  })

  it('refuses URLs the URL parser or postgres.js would throw on later, without echoing a password', () => {
    expect(messageOf({ STELLAR_RPC_URL: 'http://[bad' })).toBe('STELLAR_RPC_URL must be an http(s) URL')
    for (const url of ['postgres://u:pw@h:99999/db', 'postgres://u:100%pw@h/db']) {
      expect(messageOf({ DATABASE_URL: url })).toBe('DATABASE_URL must be a postgres:// URL')
    }
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p%40ss@127.0.0.1:5432/db' }).databaseUrl).toBe('postgres://u:p%40ss@127.0.0.1:5432/db')
    // postgres.js takes a list of hosts (high availability): each must parse.
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@h1:5432,h2:5433/db' }).databaseUrl).toBe('postgres://u:p@h1:5432,h2:5433/db')
    expect(messageOf({ DATABASE_URL: 'postgres://u:p@h1:5432,h2:99999/db' })).toBe('DATABASE_URL must be a postgres:// URL')
  })

  it('PAYOUT_THRESHOLD_KALE stops where its stroops stop fitting a bigint column', () => {
    expect(loadConfig({ PAYOUT_THRESHOLD_KALE: '922337203685' }).payoutThresholdKale).toBe(922337203685)
    expect(messageOf({ PAYOUT_THRESHOLD_KALE: '922337203686' })).toBe('PAYOUT_THRESHOLD_KALE must be a number 1e-7..922337203685')
  })

  for (const name of Object.keys(SPEC) as VarName[]) {
    it(`rejects bad values of ${name} with a message naming it and its range`, () => {
      for (const { value, message } of badValues(name)) expect(messageOf({ [name]: value })).toBe(message)
    })
  }

  it('never echoes the value of a secret variable', () => {
    const secret = 'hunter2-very-secret-value'
    for (const name of SECRET_VARS) expect(messageOf({ [name]: secret + ' x' })).not.toContain('hunter2')
    expect(SECRET_VARS).toEqual(expect.arrayContaining(['MASTER_KEY', 'FUNDING_SECRET', 'DATABASE_URL', 'ADMIN_TOKEN']))
  })

  describe('cross-checks', () => {
    it('DIFFICULTY_MIN <= DIFFICULTY_MAX', () => {
      expect(messageOf({ DIFFICULTY_MIN: '1024', DIFFICULTY_MAX: '512', DIFFICULTY_START: '600' })).toBe('DIFFICULTY_MIN must be <= DIFFICULTY_MAX')
    })

    it('DIFFICULTY_START within the bounds', () => {
      expect(messageOf({ DIFFICULTY_START: '100' })).toBe('DIFFICULTY_START must be within DIFFICULTY_MIN..DIFFICULTY_MAX')
      expect(messageOf({ DIFFICULTY_START: String(2 ** 41) })).toBe('DIFFICULTY_START must be within DIFFICULTY_MIN..DIFFICULTY_MAX')
      expect(loadConfig({ DIFFICULTY_START: '256' }).difficultyStart).toBe(256)
    })

    it('STRATUM_TLS_PORT needs both TLS files', () => {
      const m = 'STRATUM_TLS_PORT needs TLS_CERT_FILE and TLS_KEY_FILE'
      expect(messageOf({ STRATUM_TLS_PORT: '3334' })).toBe(m)
      expect(messageOf({ STRATUM_TLS_PORT: '3334', TLS_CERT_FILE: 'c.pem' })).toBe(m)
      expect(messageOf({ STRATUM_TLS_PORT: '3334', TLS_KEY_FILE: 'k.pem' })).toBe(m)
      expect(loadConfig({ STRATUM_TLS_PORT: '3334', TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem' }).stratumTlsPort).toBe(3334)
    })

    it('STELLAR_RPC_URL off devnet', () => {
      expect(messageOf({ KALE_NETWORK: 'testnet' })).toBe('STELLAR_RPC_URL must be set when KALE_NETWORK is testnet')
      expect(messageOf({ ...MAINNET, STELLAR_RPC_URL: undefined })).toBe('STELLAR_RPC_URL must be set when KALE_NETWORK is mainnet')
    })

    it('a master key on mainnet', () => {
      expect(messageOf({ ...MAINNET, MASTER_KEY: undefined })).toBe('MASTER_KEY or MASTER_KEY_FILE must be set when KALE_NETWORK is mainnet')
      expect(loadConfig({ ...MAINNET, MASTER_KEY: undefined, MASTER_KEY_FILE: '/etc/kale/key' }).masterKeyFile).toBe('/etc/kale/key')
    })

    // Regression (review): each of these was accepted and failed later, or behaved by surprise.
    it('a master key off devnet, and only one source of it', () => {
      expect(messageOf({ KALE_NETWORK: 'testnet', STELLAR_RPC_URL: 'https://x.example' })).toBe('MASTER_KEY or MASTER_KEY_FILE must be set when KALE_NETWORK is testnet')
      expect(messageOf({ ...MAINNET, MASTER_KEY_FILE: '/nonexistent' })).toBe('set one of MASTER_KEY and MASTER_KEY_FILE, not both')
    })

    it('an external database on mainnet (the embedded one does not sync to disk)', () => {
      expect(messageOf({ ...MAINNET, DATABASE_URL: undefined })).toMatch(/^DATABASE_URL must be set when KALE_NETWORK is mainnet: the embedded database does not sync to disk/)
      expect(loadConfig({ KALE_NETWORK: 'testnet', STELLAR_RPC_URL: 'https://x.example', MASTER_KEY_FILE: '/k' }).databaseUrl).toBeUndefined()
    })

    it('SESSIONS_MAX within the extranonce1 values EXTRANONCE1_BYTES gives', () => {
      expect(messageOf({ EXTRANONCE1_BYTES: '1' })).toBe('SESSIONS_MAX must be <= 256: EXTRANONCE1_BYTES=1 gives each session one of 256 extranonce1 values')
      expect(loadConfig({ EXTRANONCE1_BYTES: '1', SESSIONS_MAX: '256' }).sessionsMax).toBe(256)
      expect(messageOf({ EXTRANONCE1_BYTES: '2', SESSIONS_MAX: '65537' })).toMatch(/^SESSIONS_MAX must be <= 65536/)
    })

    it('SESSION_IDLE_SECONDS leaves a session at the vardiff target 5 targets to find a share', () => {
      expect(messageOf({ VARDIFF_TARGET_SECONDS: '600' })).toBe('SESSION_IDLE_SECONDS must be >= 5 × VARDIFF_TARGET_SECONDS: sessions would be closed as idle while mining at the target rate')
      expect(loadConfig({ VARDIFF_TARGET_SECONDS: '120' }).sessionIdleSeconds).toBe(600)
    })

    it('bind addresses are IPs or host names; the admin token is what a header can carry', () => {
      expect(messageOf({ HTTP_HOST: 'not a host' })).toBe('HTTP_HOST must be an IP address or a host name')
      expect(messageOf({ STRATUM_HOST: 'pool.example/x' })).toBe('STRATUM_HOST must be an IP address or a host name')
      expect(messageOf({ STRATUM_HOST: 'pool..example' })).toBe('STRATUM_HOST must be an IP address or a host name')
      expect(loadConfig({ HTTP_HOST: '::', STRATUM_HOST: 'pool.example.org' }).stratumHost).toBe('pool.example.org')
      expect(loadConfig({ STRATUM_HOST: 'kale_pool.internal.' }).stratumHost).toBe('kale_pool.internal.')
      expect(loadConfig({ HTTP_HOST: 'localhost' }).httpHost).toBe('localhost')
      expect(messageOf({ ADMIN_TOKEN: 'é'.repeat(20) })).toMatch(/^ADMIN_TOKEN must be at least 16 printable ASCII/)
    })

    it("the 'database' scope (migrate, farmers list) asks for no chain settings, but still checks values", () => {
      const mainnetBare = { KALE_NETWORK: 'mainnet', FARMERS: '3', DATABASE_URL: 'postgres://pool@db.example/kale' }
      expect(messageOf(mainnetBare)).toBe('STELLAR_RPC_URL must be set when KALE_NETWORK is mainnet')
      const c = loadConfig(mainnetBare, 'database')
      expect([c.kaleNetwork, c.masterKey, c.masterKeyFile, c.stellarRpcUrl, c.fundingSecret]).toEqual(['mainnet', undefined, undefined, undefined, undefined])
      // On mainnet the books are never an embedded database under DATA_DIR, for any command.
      expect(() => loadConfig({ KALE_NETWORK: 'mainnet' }, 'database')).toThrow(/^DATABASE_URL must be set when KALE_NETWORK is mainnet/)
      expect(() => loadConfig({ ...mainnetBare, DIFFICULTY_MIN: '9', DIFFICULTY_MAX: '8' }, 'database')).toThrow('DIFFICULTY_MIN must be <= DIFFICULTY_MAX')
      expect(() => loadConfig({ ...mainnetBare, MASTER_KEY: 'a'.repeat(64), MASTER_KEY_FILE: '/k' }, 'database')).toThrow('set one of MASTER_KEY and MASTER_KEY_FILE, not both')
      expect(() => loadConfig({ DATABASE_URL: 'mysql://x' }, 'database')).toThrow(/^DATABASE_URL/)
    })

    it('a funding account on mainnet when farmers are wanted', () => {
      expect(messageOf({ ...MAINNET, FUNDING_SECRET: undefined, FARMERS: '3' })).toBe('FUNDING_SECRET must be set when KALE_NETWORK is mainnet and FARMERS > 0')
      expect(loadConfig({ ...MAINNET, FARMERS: '3' }).farmers).toBe(3)
    })
  })

  it('the README documents every variable with its default', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    for (const [name, spec] of Object.entries(SPEC)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\``))
      expect(row, name).toBeDefined()
      if (spec.default !== undefined) expect(row, name).toContain(`\`${spec.default}\``)
    }
  })
})
