export async function run(_argv: string[]): Promise<void> {
  throw new Error('bench hash is not built yet')
}
