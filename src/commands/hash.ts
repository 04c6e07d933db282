// `kale-pool hash --index I --nonce N --entropy HEX --farmer ADDR`: one JSON line
// {"hash","zeros"} so miner authors can check their kernels against the pool.
import { parseArgs, stringFlag, argError } from '../args.js'
import { preimage, keccak256, zeros, farmerKeyOf, U32_MAX, U64_MAX } from '../kale/index.js'

export async function run(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, ['index', 'nonce', 'entropy', 'farmer'])
  const indexRaw = stringFlag(args, 'index')
  if (!/^\d{1,10}$/.test(indexRaw) || Number(indexRaw) > U32_MAX) throw argError('--index must be an integer 0..4294967295')
  const nonceRaw = stringFlag(args, 'nonce')
  const nonce = /^\d{1,20}$/.test(nonceRaw) ? BigInt(nonceRaw) : /^0x[0-9a-fA-F]{1,16}$/.test(nonceRaw) ? BigInt(nonceRaw) : -1n
  if (nonce < 0n || nonce > U64_MAX) throw argError('--nonce must be an integer 0..18446744073709551615 (decimal or 0x hex)')
  const entropyRaw = stringFlag(args, 'entropy')
  if (!/^[0-9a-fA-F]{64}$/.test(entropyRaw)) throw argError('--entropy must be 64 hex digits')
  const farmer = stringFlag(args, 'farmer')
  if (!farmerKeyOf(farmer)) throw argError('--farmer must be a valid G- or C-address')
  const hash = keccak256(preimage(Number(indexRaw), nonce, Buffer.from(entropyRaw, 'hex'), farmer))
  process.stdout.write(JSON.stringify({ hash: Buffer.from(hash).toString('hex'), zeros: zeros(hash) }) + '\n')
  return 0
}
