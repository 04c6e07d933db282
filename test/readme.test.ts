import { describe, it, expect } from 'vitest'
import fs from 'node:fs'
import { SPEC } from '../src/config.js'

const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8')

describe('README', () => {
  it('documents every configuration variable in its table', () => {
    const missing = Object.keys(SPEC).filter((name) => !readme.includes(`| \`${name}\` |`))
    expect(missing).toEqual([])
  })

  it('shows the quickstart commands', () => {
    expect(readme).toContain('npm install')
    expect(readme).toContain('npm start')
    expect(readme).toContain('npm test')
    expect(readme).toContain('docs/protocol.md')
  })
})
