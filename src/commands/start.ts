import { PoolError, ErrorCode } from '../errors.js'

export async function run(_argv: readonly string[]): Promise<number> {
  throw new PoolError(ErrorCode.INTERNAL, 'start is not built yet')
}
