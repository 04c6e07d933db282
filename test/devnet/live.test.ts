// The devnet on its own clock: many farmers in one ledger, bots, injected
// faults seen through the SDK, state kept across a restart, the CLI.
import { describe, it, expect } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { Keypair, TransactionBuilder, Operation, Asset, rpc } from '@stellar/stellar-sdk'
import * as h from './helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('devnet live', () => {
  it('applies plants of many farmers sent in parallel in one ledger', async () => {
    const { net, server } = await h.manualDevnet()
    try {
      const farmers = await Promise.all(Array.from({ length: 40 }, () => Keypair.random()).map((kp) => h.fundManual(server, net, kp)))
      const prepared = await Promise.all(farmers.map((f) => h.prepare(server, net, f, h.call(net, 'plant', h.addr(f.publicKey()), h.i128(0n)))))
      const sent = await Promise.all(prepared.map((p) => server.sendTransaction(p.tx!)))
      expect(sent.every((s) => s.status === 'PENDING')).toBe(true)
      net.closeLedger()
      const res = await Promise.all(sent.map((s) => server.getTransaction(s.hash)))
      expect(res.every((r) => r.status === 'SUCCESS')).toBe(true)
      expect(new Set(res.map((r) => (r.status === 'SUCCESS' ? r.ledger : 0))).size).toBe(1)
    } finally {
      await net.close()
    }
  })

  it('bots fill blocks with mainnet-like ranges (gap 2–60, zeros 5–10)', async () => {
    const { net, server } = await h.devnet({ ledgerMs: 15, bots: 25, seed: 'bots-test' })
    try {
      await h.waitUntil(async () => (await h.readInstance(server, net)).farmIndex >= 4, 20_000)
      const b = (await h.readTemp(server, h.blockKey(net, 4)))!.value
      expect(b.min_gap as number).toBeGreaterThanOrEqual(2)
      expect(b.max_gap as number).toBeLessThanOrEqual(60)
      expect(b.max_gap as number).toBeGreaterThan(b.min_gap as number)
      expect(b.min_zeros as number).toBeGreaterThanOrEqual(5)
      expect(b.max_zeros as number).toBeLessThanOrEqual(10)
      expect(b.max_stake as bigint).toBeGreaterThan(0n)
    } finally {
      await net.close()
    }
  })

  it('injects every fault kind, seen by the SDK (503, hang past the timeout, TRY_AGAIN_LATER, dropped after PENDING)', async () => {
    const { net, server } = await h.devnet({ ledgerMs: 40, faultRate: 0.5, seed: 7 })
    server.httpClient.defaults.timeout = 300
    const retry = async <T>(f: () => Promise<T>): Promise<T> => {
      for (let i = 0; ; i++) {
        try {
          return await f()
        } catch (e) {
          if (i > 50) throw e
        }
      }
    }
    try {
      // Set-up without faults: at rate 0.5 the four requests of a funded farmer all succeed 1 time in 16.
      net.faults.rate = 0
      const a = await h.farmer(server, net)
      net.faults.rate = 0.5
      const seen = new Set<string>()
      for (let i = 0; i < 80 && seen.size < 4; i++) {
        const acc = await retry(() => server.getAccount(a.publicKey()))
        const tx = new TransactionBuilder(acc, { fee: '100', networkPassphrase: net.info.networkPassphrase })
          .addOperation(Operation.payment({ destination: net.info.asset.split(':')[1]!, asset: Asset.native(), amount: '0.0000001' }))
          .setTimeout(30)
          .build()
        tx.sign(a)
        try {
          const r = await server.sendTransaction(tx)
          if (r.status === 'TRY_AGAIN_LATER') seen.add('tryAgainLater')
          if (r.status !== 'PENDING') continue
          await sleep(200) // 5 ledgers
          const got = await retry(() => server.getTransaction(r.hash))
          if (got.status === 'NOT_FOUND') seen.add('dropped')
        } catch (e) {
          const err = e as { response?: { status?: number }; code?: string; message?: string }
          if (err.response?.status === 503) seen.add('http503')
          else if (err.code === 'ECONNABORTED' || /timeout/i.test(err.message ?? '')) seen.add('hang')
          await sleep(120) // let any accepted transaction land before the next one
        }
      }
      expect([...seen].sort()).toEqual(['dropped', 'hang', 'http503', 'tryAgainLater'])
      expect(net.faults.counts.hang).toBeGreaterThan(0)
    } finally {
      const t0 = Date.now()
      await net.close()
      expect(Date.now() - t0).toBeLessThan(2_000) // hung requests end on close()
    }
  })

  it('keeps accounts, balances and blocks across a restart with dataDir', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devnet-'))
    try {
      const first = await h.devnet({ dataDir: dir, ledgerMs: 30 })
      const f = await h.farmer(first.server, first.net)
      const r = await h.invoke(first.server, first.net, f, h.call(first.net, 'plant', h.addr(f.publicKey()), h.i128(0n)))
      expect(r.res?.status).toBe('SUCCESS')
      const inst = await h.readInstance(first.server, first.net)
      const seq = first.net.chain.state.sequence
      const xlm = (await first.server.getAccountEntry(f.publicKey())).balance.toString()
      await first.net.close()
      const second = await h.devnet({ dataDir: dir, ledgerMs: 30 })
      try {
        expect(second.net.info.contractId).toBe(first.net.info.contractId)
        expect((await second.server.getAccountEntry(f.publicKey())).balance.toString()).toBe(xlm)
        expect(await h.kaleBalance(second.server, second.net, f.publicKey())).toBe(0n)
        expect((await h.readInstance(second.server, second.net)).farmIndex).toBe(inst.farmIndex)
        expect(await h.readTemp(second.server, h.pailKey(second.net, f.publicKey(), inst.farmIndex))).not.toBeNull()
        expect((await second.server.getLatestLedger()).sequence).toBeGreaterThanOrEqual(seq)
      } finally {
        await second.net.close()
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('runs as `kale-pool devnet`, prints its info on one line and stops on SIGTERM', async () => {
    const cli = path.resolve('dist/cli.js')
    const child = spawn(process.execPath, [cli, 'devnet', '--port', '0', '--ledger-ms', '50', '--seed', 's'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const line = await new Promise<string>((resolve, reject) => {
      let buf = ''
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString()
        if (buf.includes('\n')) resolve(buf.split('\n')[0]!)
      })
      child.once('exit', (c) => reject(new Error(`exited ${c}`)))
      setTimeout(() => reject(new Error('no output')), 15_000)
    })
    const info = JSON.parse(line) as { rpcUrl: string; ledgerMs: number }
    expect(info.ledgerMs).toBe(50)
    const served = (await (await fetch(new URL('/devnet', info.rpcUrl))).json()) as unknown
    expect(served).toEqual(info)
    const server = new rpc.Server(info.rpcUrl, { allowHttp: true })
    expect((await server.getHealth()).status).toBe('healthy')
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c))
      child.kill('SIGTERM')
    })
    expect(code).toBe(0)
  })

  it('rejects bad CLI options with exit code 2 and a message naming the option', async () => {
    const cli = path.resolve('dist/cli.js')
    for (const [args, name] of [[['--fault-rate', '2'], '--fault-rate'], [['--ledger-ms', '0'], '--ledger-ms'], [['--bogus', '1'], '--bogus']] as const) {
      const child = spawn(process.execPath, [cli, 'devnet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      let err = ''
      child.stderr.on('data', (d: Buffer) => (err += d.toString()))
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      expect(code).toBe(2)
      expect(err).toContain(name)
    }
  })
})
