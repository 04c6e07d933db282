export async function run(_argv: string[]): Promise<void> {
  throw new Error('bench stratum is not built yet')
}
