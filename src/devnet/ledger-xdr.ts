// Ledger headers, close meta and transaction meta as real XDR: what
// getLatestLedger and getTransaction return and the SDK parses.
import { xdr, hash as sha256 } from '@stellar/stellar-sdk'
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
      diagnosticEvents: [],
    }),
  ).toXdr('base64')
  if (metaCache.size > 20_000) metaCache.clear()
  metaCache.set(rec.hash, meta)
  return meta
}
