export async function run(_argv: string[]): Promise<void> {
  throw new Error('bench verify is not built yet')
}
