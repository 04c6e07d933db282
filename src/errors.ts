// One error type for operating failures, with stable machine-readable codes.
// Share rejects are values (see stratum/protocol.ts), bugs are asserts.

export const ErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  ARGUMENT_INVALID: 'ARGUMENT_INVALID',
  RPC_TIMEOUT: 'RPC_TIMEOUT',
  RPC_HTTP: 'RPC_HTTP',
  RPC_JSON: 'RPC_JSON',
  RPC_NETWORK: 'RPC_NETWORK',
  RPC_RESPONSE_INVALID: 'RPC_RESPONSE_INVALID',
  TX_FAILED: 'TX_FAILED',
  TX_REJECTED: 'TX_REJECTED',
  TX_TRY_AGAIN_LATER: 'TX_TRY_AGAIN_LATER',
  TX_NOT_FOUND: 'TX_NOT_FOUND',
  CONTRACT_ERROR: 'CONTRACT_ERROR',
  SIMULATION_FAILED: 'SIMULATION_FAILED',
  DATABASE_UNAVAILABLE: 'DATABASE_UNAVAILABLE',
  DATABASE_MIGRATION: 'DATABASE_MIGRATION',
  SECRET_UNAVAILABLE: 'SECRET_UNAVAILABLE',
  BUSY: 'BUSY',
  LOCKED: 'LOCKED',
  FUNDING_FAILED: 'FUNDING_FAILED',
  NOT_FOUND: 'NOT_FOUND',
  INTERNAL: 'INTERNAL',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export class PoolError extends Error {
  readonly code: ErrorCode
  /** Extra structured context; never put secrets here. */
  readonly details: Readonly<Record<string, unknown>>

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PoolError'
    this.code = code
    this.details = Object.freeze({ ...details })
  }

  /** True for failures worth retrying (network, timeouts, 5xx, TRY_AGAIN_LATER). */
  get transient(): boolean {
    return (
      this.code === ErrorCode.RPC_TIMEOUT ||
      this.code === ErrorCode.RPC_NETWORK ||
      this.code === ErrorCode.TX_TRY_AGAIN_LATER ||
      (this.code === ErrorCode.RPC_HTTP && Number(this.details.status) >= 500) ||
      this.code === ErrorCode.DATABASE_UNAVAILABLE
    )
  }
}

export function isPoolError(err: unknown, code?: ErrorCode): err is PoolError {
  return err instanceof PoolError && (code === undefined || err.code === code)
}
