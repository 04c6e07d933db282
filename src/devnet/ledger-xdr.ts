// Ledger headers, close meta and transaction meta as real XDR: what
// getLatestLedger and getTransaction return and the SDK parses.
import { xdr, StrKey, hash as sha256 } from '@stellar/stellar-sdk'
import { BASE_FEE_STROOPS, BASE_RESERVE_STROOPS, type LedgerState } from './state.js'
import type { ChainCtx, TxRecord } from './tx-apply.js'

const ZERO32 = Buffer.alloc(32)

export function ledgerHeader(st: LedgerState, prevHash: Uint8Array, protocol: number): xdr.LedgerHeader {
  return new xdr.LedgerHeader({
    ledgerVersion: protocol,
    previousLedgerHash: Buffer.from(prevHash),
    scpValue: new xdr.StellarValue({ txSetHash: ZERO32, closeTime: BigInt(st.closeTime), upgrades: [], ext: xdr.StellarValueExt.stellarValueBasic() }),
    txSetResultHash: ZERO32,
    bucketListHash: ZERO32,
    ledgerSeq: st.sequence,
    totalCoins: 1_000_000_000_000_000_000n,
    feePool: st.feePool,
    inflationSeq: 0,
    idPool: 0n,
    baseFee: Number(BASE_FEE_STROOPS),
    baseReserve: Number(BASE_RESERVE_STROOPS),
    maxTxSetSize: 1000,
    skipList: [ZERO32, ZERO32, ZERO32, ZERO32],
    ext: xdr.LedgerHeaderExt.v0(),
  } as never)
}

/** getLatestLedger's answer for the last closed ledger, with header and close meta XDR. */
export function ledgerHeaderJson(st: LedgerState, prevHash: Uint8Array, protocol: number): Record<string, unknown> {
  const header = ledgerHeader(st, prevHash, protocol)
  const headerBytes = Buffer.from(header.toXdr())
  const id = sha256(headerBytes)
  const meta = xdr.LedgerCloseMeta.v0(
    new xdr.LedgerCloseMetaV0({
      ledgerHeader: new xdr.LedgerHeaderHistoryEntry({ hash: id, header, ext: xdr.LedgerHeaderHistoryEntryExt.v0() }),
      txSet: new xdr.TransactionSet({ previousLedgerHash: Buffer.from(prevHash), txs: [] }),
      txProcessing: [],
      upgradesProcessing: [],
      scpInfo: [],
    } as never),
  )
  return {
    id: Buffer.from(id).toString('hex'),
    sequence: st.sequence,
    protocolVersion: protocol,
    closeTime: String(st.closeTime),
    headerXdr: headerBytes.toString('base64'),
    metadataXdr: meta.toXdr('base64'),
  }
}

const metaCache = new Map<string, string>()

export function diagnosticsOf(ctx: ChainCtx, rec: TxRecord): xdr.DiagnosticEvent[] {
  if (!rec.error) return []
  const ev = errorEvent(StrKey.decodeContract(ctx.ids.contractId), rec.error)
  return ev ? [ev] : []
}

/** TransactionMeta v4: per-operation changes (created accounts) and the Soroban return value. */
export function txMetaXdr(ctx: ChainCtx, rec: TxRecord): string {
  const hit = metaCache.get(rec.hash)
  if (hit) return hit
  const operations = rec.opOutcomes.map(
    (o) =>
      new xdr.OperationMetaV2({
        ext: xdr.ExtensionPoint.v0(),
        changes: (o.created ?? []).map(([id, a]) =>
          xdr.LedgerEntryChange.ledgerEntryCreated(new xdr.LedgerEntry({ lastModifiedLedgerSeq: rec.ledger, data: ctx.b.accountEntry(id, a), ext: xdr.LedgerEntryExt.v0() })),
        ),
        events: [],
      }),
  )
  const isSoroban = rec.returnValue !== null || rec.error !== undefined
  const meta = xdr.TransactionMeta.v4(
    new xdr.TransactionMetaV4({
      ext: xdr.ExtensionPoint.v0(),
      txChangesBefore: [],
      operations,
      txChangesAfter: [],
      sorobanMeta: isSoroban ? new xdr.SorobanTransactionMetaV2({ ext: xdr.SorobanTransactionMetaExt.v0(), returnValue: rec.returnValue }) : null,
      events: [],
      diagnosticEvents: diagnosticsOf(ctx, rec),
    }),
  ).toXdr('base64')
  if (metaCache.size > 20_000) metaCache.clear()
  metaCache.set(rec.hash, meta)
  return meta
}

const ERROR_TYPES: Record<string, string> = { Contract: 'sceContract', Auth: 'sceAuth', Storage: 'sceStorage', Value: 'sceValue', WasmVm: 'sceWasmVm', Context: 'sceContext' }

/** The ScError of "HostError: Error(Type, #N | Code)". */
export function scErrorOf(message: string): xdr.ScError | null {
  const m = /Error\((\w+), (?:#(\d+)|(\w+))\)/.exec(message)
  if (!m) return null
  const arm = ERROR_TYPES[m[1]!]
  if (!arm) return null
  const E = xdr.ScError as unknown as Record<string, (x: unknown) => xdr.ScError>
  if (m[2] !== undefined) return arm === 'sceContract' ? E.sceContract!(Number(m[2])) : null
  const code = (xdr.ScErrorCode as unknown as Record<string, unknown>)[`scec${m[3]}`]
  return code === undefined || arm === 'sceContract' ? null : E[arm]!(code)
}

/** A diagnostic "error" event as the host emits for a failed call: topics [error, ScError], data message. */
export function errorEvent(contractId: Uint8Array, message: string): xdr.DiagnosticEvent | null {
  const err = scErrorOf(message)
  if (!err) return null
  return new xdr.DiagnosticEvent({
    inSuccessfulContractCall: false,
    event: new xdr.ContractEvent({
      ext: xdr.ExtensionPoint.v0(),
      contractId: new xdr.ContractId(Buffer.from(contractId)),
      type: xdr.ContractEventType.diagnostic,
      body: xdr.ContractEventBody.v0(new xdr.ContractEventV0({ topics: [xdr.ScVal.scvSymbol('error'), xdr.ScVal.scvError(err)], data: xdr.ScVal.scvString(message) })),
    } as never),
  })
}
