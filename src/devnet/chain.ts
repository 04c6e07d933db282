// The devnet's ledger machine: state, the queue of admitted transactions, the
// ledger close (apply in arrival order, evict expired temporary entries, keep
// results for getTransaction) and the read side the RPC server answers from.
import type { TxLog } from './tx-log.js'
import { Keypair, StrKey, TransactionBuilder, Operation, Account } from '@stellar/stellar-sdk'
import { Scratch, evictExpired, newFarmBlock, LEDGER_SECONDS, STROOPS_PER_XLM, type LedgerState } from './state.js'
import { admit, applyTx, type ChainCtx, type PendingTx, type TxRecord } from './tx-apply.js'
import { decodeCall, runCall, recordAuth, footprintOf, resourceFeeFor, sorobanDataXdr, errorString } from './invoke.js'
import { decodeEnvelope, invokeOf } from './envelope.js'
import { EntryReader } from './entries.js'
import { txResult, type Ids, type XdrBuilder } from './xdr.js'
import { ledgerHeaderJson, txMetaXdr, diagnosticsOf, errorEvent } from './ledger-xdr.js'

export const PROTOCOL_VERSION = 23
export const RECORDS_LEDGERS_MAX = 1440
export const FRIENDBOT_STROOPS = 10_000n * STROOPS_PER_XLM
export const QUEUE_TXS_MAX = 20_000

export function genesisState(nowSeconds: number, root: string, issuer: string): LedgerState {
  const accounts = new Map()
  accounts.set(root, { balance: 100_000_000_000n * STROOPS_PER_XLM, seq: 1n << 32n, subentries: 0, modified: 1 })
  accounts.set(issuer, { balance: 10_000n * STROOPS_PER_XLM, seq: 1n << 32n, subentries: 0, modified: 1 })
  return {
    sequence: 1,
    closeTime: nowSeconds,
    accounts,
    trustlines: new Map(),
    instance: { farmIndex: 0, farmBlock: newFarmBlock(BigInt(nowSeconds - 300)), paused: false, modified: 1 },
    blocks: new Map(),
    pails: new Map(),
    authNonces: new Map(),
    feePool: 0n,
  }
}

interface FriendbotRequest {
  addr: string
  resolve: (r: { status: number; body: unknown }) => void
}

export type SendResult =
  | { status: 'PENDING' | 'DUPLICATE' | 'TRY_AGAIN_LATER'; hash: string }
  | { status: 'ERROR'; hash: string; errorResultXdr: string }

export class Chain {
  readonly ctx: ChainCtx
  private queue: PendingTx[] = []
  private readonly pendingBySource = new Map<string, PendingTx>()
  private readonly records = new Map<string, TxRecord>()
  private readonly recordLedgers: Array<[number, string[]]> = []
  private friendbotQueue: FriendbotRequest[] = []
  private headerCache: { seq: number; json: Record<string, unknown> } | null = null
  private prevHash: Uint8Array = new Uint8Array(32)
  /** Oldest ledger whose transactions getTransaction knows (this process's, or reloaded from the tx log). */
  oldestLedger: number
  oldestLedgerCloseTime: number
  /** History from before a restart (DATA_DIR); consulted when a hash is not among this process's records. */
  txLog: TxLog | undefined
  private readonly entries: EntryReader

  constructor(
    state: LedgerState,
    ids: Ids,
    b: XdrBuilder,
    tempTtlLedgers: number,
    private readonly root: Keypair,
  ) {
    this.ctx = { state, ids, b, tempTtlLedgers }
    this.entries = new EntryReader(this.ctx, root.publicKey())
    this.oldestLedger = state.sequence
    this.oldestLedgerCloseTime = Number(state.closeTime)
  }

  get state(): LedgerState {
    return this.ctx.state
  }

  get rootAddress(): string {
    return this.root.publicKey()
  }

  /** Closes the next ledger: applies friendbot funding, then the queue in arrival order. */
  closeLedger(): { applied: number } {
    const st = this.ctx.state
    const ledger = st.sequence + 1
    const time = st.closeTime + LEDGER_SECONDS
    evictExpired(st, ledger)
    const hashes: string[] = []
    let order = 1
    const friendbot = this.friendbotQueue
    this.friendbotQueue = []
    const fbResults: Array<[FriendbotRequest, TxRecord | null]> = []
    for (const req of friendbot) {
      const p = this.friendbotTx(req.addr)
      const rec = p ? applyTx(this.ctx, p, ledger, time, order++) : null
      if (rec) this.keep(rec, hashes)
      fbResults.push([req, rec])
    }
    const queue = this.queue
    this.queue = []
    this.pendingBySource.clear()
    for (const p of queue) {
      if (p.dropped) continue
      this.keep(applyTx(this.ctx, p, ledger, time, order++), hashes)
    }
    st.sequence = ledger
    st.closeTime = time
    this.recordLedgers.push([ledger, hashes])
    while (this.recordLedgers.length > RECORDS_LEDGERS_MAX) for (const h of this.recordLedgers.shift()![1]) this.records.delete(h)
    for (const [req, rec] of fbResults) req.resolve(this.friendbotAnswer(rec))
    return { applied: order - 1 }
  }

  private keep(rec: TxRecord, hashes: string[]): void {
    this.records.set(rec.hash, rec)
    hashes.push(rec.hash)
  }

  private friendbotTx(addr: string): PendingTx | null {
    const root = this.ctx.state.accounts.get(this.root.publicKey())!
    const tx = new TransactionBuilder(new Account(this.root.publicKey(), root.seq.toString()), { fee: '100', networkPassphrase: this.ctx.ids.passphrase })
      .addOperation(Operation.createAccount({ destination: addr, startingBalance: (FRIENDBOT_STROOPS / STROOPS_PER_XLM).toString() }))
      .setTimeout(0)
      .build()
    tx.sign(this.root)
    const b64 = tx.toXDR()
    const admitted = admit(this.ctx, b64, new Map())
    return admitted.ok ? admitted.tx : null
  }

  private friendbotAnswer(rec: TxRecord | null): { status: number; body: unknown } {
    if (!rec || rec.status !== 'SUCCESS') {
      return { status: 400, body: { type: 'https://stellar.org/horizon-errors/transaction_failed', title: 'Transaction Failed', status: 400, detail: 'createAccountAlreadyExist: the account exists or funding failed' } }
    }
    return { status: 200, body: { hash: rec.hash, successful: true, ledger: rec.ledger, envelope_xdr: rec.envelopeXdr, result_xdr: rec.result.toXdr('base64'), result_meta_xdr: txMetaXdr(this.ctx, rec) } }
  }

  /** Funds `addr` with 10 000 XLM at the next close. */
  friendbot(addr: string): Promise<{ status: number; body: unknown }> {
    if (this.ctx.state.accounts.has(addr)) {
      return Promise.resolve(this.friendbotAnswer(null))
    }
    return new Promise((resolve) => this.friendbotQueue.push({ addr, resolve }))
  }

  /** Answers pending friendbot requests (used on close()). */
  abortFriendbot(): void {
    for (const r of this.friendbotQueue) r.resolve({ status: 503, body: { detail: 'devnet closing' } })
    this.friendbotQueue = []
  }

  hashOf(b64: string): string {
    return decodeEnvelope(b64, this.ctx.ids.networkId).hash
  }

  send(b64: string, dropped: boolean): SendResult {
    const decoded = decodeEnvelope(b64, this.ctx.ids.networkId)
    const hash = decoded.hash
    if (this.records.has(hash)) return { status: 'DUPLICATE', hash }
    if (this.queue.length >= QUEUE_TXS_MAX) return { status: 'TRY_AGAIN_LATER', hash }
    const a = admit(this.ctx, b64, this.pendingBySource, decoded)
    if (a.ok) {
      if (dropped) a.tx.dropped = true
      this.queue.push(a.tx)
      this.pendingBySource.set(a.tx.source, a.tx)
      if (a.tx.feeSource !== a.tx.source) this.pendingBySource.set(a.tx.feeSource, a.tx)
      return { status: 'PENDING', hash: a.tx.hash }
    }
    if (a.code === 'TRY_AGAIN_LATER' || a.code === 'DUPLICATE') return { status: a.code, hash }
    return { status: 'ERROR', hash, errorResultXdr: txResult(a.fee, a.code).toXdr('base64') }
  }

  simulate(b64: string, upgradedAuth: boolean): Record<string, unknown> {
    const st = this.ctx.state
    const latestLedger = st.sequence
    const env = decodeEnvelope(b64, this.ctx.ids.networkId)
    const op = env.operations.length === 1 ? invokeOf(env.operations[0]) : null
    if (!op) {
      return { error: 'simulation needs exactly one InvokeHostFunction operation', latestLedger, events: [] }
    }
    // Simulate in the ledger the transaction would most likely land in: the next one.
    const s = new Scratch(st, st.sequence + 1, BigInt(st.closeTime + LEDGER_SECONDS), this.ctx.tempTtlLedgers)
    try {
      const call = decodeCall(op.func, this.ctx.ids)
      const value = runCall(s, call)
      const auth = recordAuth(call, env.source, this.ctx.ids, upgradedAuth)
      const fp = footprintOf(s)
      const fee = resourceFeeFor(fp.readOnly.length, fp.readWrite.length)
      return {
        latestLedger,
        minResourceFee: fee.toString(),
        transactionData: sorobanDataXdr(this.ctx.b, fp, fee).toString('base64'),
        results: [{ auth: auth.map((a) => a.toXdr('base64')), xdr: value.toXdr('base64') }],
        events: [],
        cost: { cpuInsns: '2000000', memBytes: '1000000' },
      }
    } catch (err) {
      const msg = errorString(err)
      if (msg === null) throw err
      const ev = errorEvent(StrKey.decodeContract(this.ctx.ids.contractId), msg)
      return { error: `${msg}\n\nEvent log (newest first):\n   0: [Diagnostic Event] contract call failed`, latestLedger, events: ev ? [ev.toXdr('base64')] : [] }
    }
  }

  getTransaction(hash: string): Record<string, unknown> {
    const st = this.ctx.state
    const common = { latestLedger: st.sequence, latestLedgerCloseTime: String(st.closeTime), oldestLedger: this.oldestLedger, oldestLedgerCloseTime: String(this.oldestLedgerCloseTime) }
    const rec = this.records.get(hash.toLowerCase())
    if (!rec) {
      const before = this.txLog?.lookup(hash.toLowerCase())
      return before ? { ...before, ...common } : { status: 'NOT_FOUND', ...common }
    }
    return {
      status: rec.status,
      ...common,
      txHash: rec.hash,
      applicationOrder: rec.applicationOrder,
      feeBump: rec.feeBump,
      envelopeXdr: rec.envelopeXdr,
      resultXdr: rec.result.toXdr('base64'),
      resultMetaXdr: txMetaXdr(this.ctx, rec),
      ledger: rec.ledger,
      createdAt: String(rec.createdAt),
      ...(rec.error ? { diagnosticEventsXdr: diagnosticsOf(this.ctx, rec).map((e) => e.toXdr('base64')) } : {}),
    }
  }

  /** Hashes of the transactions applied in the last closed ledger. */
  lastClosedHashes(): string[] {
    return this.recordLedgers[this.recordLedgers.length - 1]?.[1] ?? []
  }

  /** The recorded failure text of a failed contract call (tests and logs). */
  failure(hash: string): string | undefined {
    return this.records.get(hash)?.error
  }

  ledgerEntries(keysB64: string[]): Record<string, unknown> {
    return { entries: this.entries.read(keysB64), latestLedger: this.ctx.state.sequence }
  }

  latestLedger(): Record<string, unknown> {
    const st = this.ctx.state
    if (this.headerCache?.seq !== st.sequence) {
      const json = ledgerHeaderJson(st, this.prevHash, PROTOCOL_VERSION)
      this.prevHash = Buffer.from(String(json.id), 'hex')
      this.headerCache = { seq: st.sequence, json }
    }
    return this.headerCache.json
  }

  get queueLength(): number {
    return this.queue.length
  }
}
