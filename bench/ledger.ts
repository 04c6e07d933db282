export async function run(_argv: string[]): Promise<void> {
  throw new Error('bench ledger is not built yet')
}
