// Piscina and worker_threads need compiled JavaScript. Under vitest this code
// runs from src/…/x.ts, so map it to the same path under dist/ (built by
// `npm run build`); from dist/ or dist-bench/ the sibling .js file is used.
import { existsSync } from 'node:fs'
import { dirname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PoolError, ErrorCode } from '../errors.js'

/** Absolute path of the compiled module `name` (no extension) next to the module at `metaUrl`. */
export function compiledWorkerFile(metaUrl: string, name: string): string {
  const here = fileURLToPath(metaUrl)
  let dir = dirname(here)
  if (here.endsWith('.ts')) {
    const marker = `${sep}src${sep}`
    const at = dir.lastIndexOf(marker)
    dir = at < 0 ? dir : dir.slice(0, at) + `${sep}dist${sep}` + dir.slice(at + marker.length)
    if (at < 0 && dir.endsWith(`${sep}src`)) dir = dir.slice(0, -3) + 'dist'
  }
  const file = join(dir, `${name}.js`)
  if (!existsSync(file)) throw new PoolError(ErrorCode.INTERNAL, `worker file ${file} is missing: run npm run build`)
  return file
}
