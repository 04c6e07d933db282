import { describe, it, expect } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { lockDataDir } from '../src/lockfile.js'
import { isPoolError } from '../src/errors.js'

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'kale-lock-'))

describe('data directory lock', () => {
  it('refuses a second holder while the first lives, and frees on release', () => {
    const dir = tmp()
    const a = lockDataDir(dir)
    fs.writeFileSync(a.path, '1\n') // pid 1 is alive and not us
    let err: unknown
    try {
      lockDataDir(dir)
    } catch (e) {
      err = e
    }
    expect(isPoolError(err, 'LOCKED')).toBe(true)
    expect((err as Error).message).toContain('pid 1')
    fs.writeFileSync(a.path, `${process.pid}\n`)
    a.release()
    expect(fs.existsSync(a.path)).toBe(false)
    lockDataDir(dir).release()
  })

  it('takes over a lock whose owner died', async () => {
    const dir = tmp()
    const child = spawn(process.execPath, ['-e', ''])
    const pid = child.pid!
    await new Promise((r) => child.on('exit', r))
    fs.writeFileSync(path.join(dir, 'kale-pool.lock'), `${pid}\n`)
    const lock = lockDataDir(dir)
    expect(fs.readFileSync(lock.path, 'utf8').trim()).toBe(String(process.pid))
    lock.release()
  })
})
