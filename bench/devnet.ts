export async function run(_argv: string[]): Promise<void> {
  throw new Error('bench devnet is not built yet')
}
