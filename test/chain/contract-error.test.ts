// Regression (review finding 5): contractErrorOf took the first Error(Contract, #N)
// of any contract, so the KALE asset contract's (SAC) errors — #10 balance,
// #13 trustline missing — read as KALE's WorkMissing / HashInvalid. With the KALE
// contract id it now counts only errors the diagnostic events attribute to it.
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { StrKey } from '@stellar/stellar-sdk'
import { contractErrorOf } from '../../src/chain/contract.js'

const KALE = StrKey.encodeContract(randomBytes(32))
const SAC = StrKey.encodeContract(randomBytes(32))
const G = 'GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H'

/** A simulation error as soroban-env-host formats it (event log newest first). */
function hostError(code: number, raisedBy: string, via?: string): string {
  const lines = [`HostError: Error(Contract, #${code})`, '', 'Event log (newest first):']
  let i = 0
  if (via) {
    lines.push(`   ${i++}: [Diagnostic Event] contract:${via}, topics:[error, Error(Contract, #${code})], data:"escalating error to VM trap from failed host function call: call"`)
    lines.push(`   ${i++}: [Diagnostic Event] contract:${via}, topics:[error, Error(Contract, #${code})], data:["contract call failed", transfer, [${G}, ${via}, 1000]]`)
  }
  lines.push(`   ${i++}: [Diagnostic Event] contract:${raisedBy}, topics:[error, Error(Contract, #${code})], data:"trustline entry is missing for account ${G}"`)
  if (via) lines.push(`   ${i++}: [Diagnostic Event] contract:${via}, topics:[fn_call, ${raisedBy}, transfer], data:[${G}, ${via}, 1000]`)
  lines.push(`   ${i++}: [Diagnostic Event] topics:[fn_call, ${via ?? raisedBy}, plant], data:[${G}, 1000]`)
  return lines.join('\n')
}

describe('contractErrorOf', () => {
  it('a KALE error raised by the KALE contract is its code', () => {
    expect(contractErrorOf(hostError(8, KALE), KALE)).toBe(8)
  })

  it('a SAC error passed up through the KALE contract is not a KALE code', () => {
    expect(contractErrorOf(hostError(13, SAC, KALE), KALE)).toBeUndefined()
    expect(contractErrorOf(hostError(10, SAC, KALE), KALE)).toBeUndefined()
  })

  it('event log oldest first: still the contract that raised it', () => {
    const text = hostError(13, SAC, KALE).replace('newest first', 'oldest first').split('\n')
    const head = text.slice(0, 3)
    const events = text.slice(3).reverse()
    expect(contractErrorOf([...head, ...events].join('\n'), KALE)).toBeUndefined()
  })

  it('bare text without attributed events counts as the invoked contract\'s (devnet, short answers)', () => {
    expect(contractErrorOf('HostError: Error(Contract, #14)', KALE)).toBe(14)
    expect(contractErrorOf('HostError: Error(Contract, #14)')).toBe(14)
    expect(contractErrorOf('HostError: Error(Budget, ExceededLimit)', KALE)).toBeUndefined()
  })
})
