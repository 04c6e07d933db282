// ChainStore (chain/store.ts) backed by PostgreSQL: farmer accounts and the log
// of chain operations, one row per (farmer, block, op), upserted as they progress.
import type { Sql } from './db.js'
import type { ChainOp, ChainOpRecord, ChainOpStatus, ChainStore, FarmerRecord, FarmerStatus } from '../chain/store.js'
import { toBigInt } from './amounts.js'

interface OpRow {
  farmer: string
  block: bigint
  op: ChainOp
  status: ChainOpStatus
  tx_hash: string | null
  fee_stroops: bigint
  amount_stroops: bigint
  zeros: number | null
  gap: number | null
  reason: string | null
  updated_at: Date
}

function toOp(r: OpRow): ChainOpRecord {
  return {
    farmer: r.farmer,
    block: Number(r.block),
    op: r.op,
    status: r.status,
    txHash: r.tx_hash,
    feeStroops: toBigInt(r.fee_stroops),
    amountStroops: toBigInt(r.amount_stroops),
    zeros: r.zeros,
    gap: r.gap,
    reason: r.reason,
    updatedAt: r.updated_at.getTime(),
  }
}

export class PgChainStore implements ChainStore {
  constructor(private readonly sql: Sql) {}

  async listFarmers(): Promise<FarmerRecord[]> {
    const rows = await this.sql<{ public_key: string; encrypted_secret: string; stake_percent: string; status: FarmerStatus; created_at: Date }[]>`
      SELECT public_key, encrypted_secret, stake_percent::text AS stake_percent, status, created_at FROM farmers ORDER BY created_at, public_key`
    return rows.map((r) => ({
      publicKey: r.public_key,
      encryptedSecret: r.encrypted_secret,
      stakePercent: Number(r.stake_percent),
      status: r.status,
      createdAt: r.created_at.getTime(),
    }))
  }

  /** Adds a farmer; an existing public key is left as it is (like MemoryChainStore). */
  async addFarmer(f: FarmerRecord): Promise<void> {
    await this.sql`
      INSERT INTO farmers (public_key, encrypted_secret, stake_percent, status, created_at)
      VALUES (${f.publicKey}, ${f.encryptedSecret}, ${String(f.stakePercent)}, ${f.status}, ${new Date(f.createdAt)})
      ON CONFLICT (public_key) DO NOTHING`
  }

  async setFarmerStatus(publicKey: string, status: FarmerStatus): Promise<void> {
    await this.sql`UPDATE farmers SET status = ${status} WHERE public_key = ${publicKey}`
  }

  async recordOp(op: ChainOpRecord): Promise<void> {
    await this.sql`
      INSERT INTO chain_ops (farmer, block, op, status, tx_hash, fee_stroops, amount_stroops, zeros, gap, reason, updated_at)
      VALUES (${op.farmer}, ${op.block}, ${op.op}, ${op.status}, ${op.txHash}, ${op.feeStroops}, ${op.amountStroops},
              ${op.zeros}, ${op.gap}, ${op.reason}, ${new Date(op.updatedAt)})
      ON CONFLICT (farmer, block, op) DO UPDATE SET
        status = excluded.status, tx_hash = excluded.tx_hash, fee_stroops = excluded.fee_stroops,
        amount_stroops = excluded.amount_stroops, zeros = excluded.zeros, gap = excluded.gap,
        reason = excluded.reason, updated_at = excluded.updated_at
      WHERE chain_ops.status <> 'done' OR excluded.status = 'done'`
  }

  async opsOfBlock(block: number): Promise<ChainOpRecord[]> {
    const rows = await this.sql<OpRow[]>`SELECT * FROM chain_ops WHERE block = ${block} ORDER BY farmer, op`
    return rows.map(toOp)
  }

  async unsettledOps(): Promise<ChainOpRecord[]> {
    const rows = await this.sql<OpRow[]>`
      SELECT o.* FROM chain_ops o
      WHERE o.status = 'pending'
         OR (o.status = 'failed' AND o.op IN ('plant', 'work'))
         OR (o.op = 'work' AND o.status = 'done' AND NOT EXISTS (
               SELECT 1 FROM chain_ops h
               WHERE h.farmer = o.farmer AND h.block = o.block AND h.op = 'harvest' AND h.status IN ('done', 'lost')))
      ORDER BY o.block, o.updated_at, o.farmer, o.op`
    return rows.map(toOp)
  }
}
