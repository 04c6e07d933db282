// The install-time guard for postgres.js's flush-after-close crash
// (scripts/patch-postgres.mjs): a database outage must never end the process.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
// @ts-expect-error plain .mjs script without types
import { patchSource } from '../../scripts/patch-postgres.mjs'

const MARKER = '/* kale-pool: nextWrite guard */'
const pristine = [
  '  function nextWrite(fn) {',
  '    const x = socket.write(chunk, fn)',
  '    nextWriteTimer !== null && clearImmediate(nextWriteTimer)',
  '    chunk = nextWriteTimer = null',
  '    return x',
  '  }',
  '  function terminate() {',
  '    clearImmediate(nextWriteTimer)',
  '  }',
  '  async function closed(hadError) {',
  '    clearImmediate(nextWriteTimer)',
  '    socket = null',
  '  }',
  '',
].join('\n')

describe('postgres.js nextWrite guard', () => {
  it('guards the flush and resets both teardown paths, once', () => {
    const first = patchSource(pristine) as { src: string; status: string }
    expect(first.status).toBe('patched')
    expect(first.src).toContain(`${MARKER}\n    if (socket === null) {`)
    expect(first.src).toContain("error(Errors.connection('CONNECTION_CLOSED', options))")
    expect(first.src.split('\n    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null').length - 1).toBe(2)
    const again = patchSource(first.src) as { src: string; status: string }
    expect(again).toEqual({ src: first.src, status: 'already patched' })
  })

  it('leaves a changed driver alone and says so', () => {
    const changed = pristine.replace('const x = socket.write(chunk, fn)', 'const x = socket && socket.write(chunk, fn)')
    expect(patchSource(changed)).toEqual({ src: changed, status: 'code changed: not patched' })
  })

  it('is applied to the installed driver, ESM and CommonJS (npm install runs it as postinstall)', () => {
    // The driver's entry points (ESM import and CommonJS main) lead to these two files.
    const cjsEntry = createRequire(import.meta.url).resolve('postgres')
    const root = dirname(dirname(dirname(cjsEntry)))
    for (const rel of ['src/connection.js', 'cjs/src/connection.js']) {
      expect(readFileSync(join(root, rel), 'utf8'), rel).toContain(MARKER)
    }
  })
})
