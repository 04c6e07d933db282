import { PoolError, ErrorCode } from '../errors.js'

export async function run(_argv: readonly string[]): Promise<number> {
  throw new PoolError(ErrorCode.INTERNAL, 'migrate is not built yet')
}
