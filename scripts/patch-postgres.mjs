// Install-time fix for a crash in postgres.js 3.4.x (porsager/postgres issues
// #1066, #1154, #1208; unfixed in 3.4.9, the newest release): a small write is
// flushed from a setImmediate, and when the connection closes before it runs
// (a database outage, a cut TCP path) the flush calls socket.write on null and
// the uncaught TypeError ends the process. kale-pool's promise is that a database
// outage never stops the pool — the faults e2e test died of exactly this.
//
// The guard: a flush with no socket fails the connection's queries with
// CONNECTION_CLOSED (catchable, the ledger retries them) instead of throwing, and
// both teardown paths forget the pending flush and its bytes, so a reconnected
// connection does not inherit a stale timer (which left it unable to flush).
//
// Idempotent (a marker comment), and a no-op with a warning when the driver's
// code has changed: then the upstream fix may have landed; check and remove this.
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const MARKER = '/* kale-pool: nextWrite guard */'
const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'postgres')

const NEXT_WRITE = `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`
const NEXT_WRITE_GUARDED = `  function nextWrite(fn) {
    ${MARKER}
    if (socket === null) {
      chunk = nextWriteTimer = null
      error(Errors.connection('CONNECTION_CLOSED', options))
      return false
    }
    const x = socket.write(chunk, fn)`
const TEARDOWN = `    clearImmediate(nextWriteTimer)\n`
const TEARDOWN_RESET = `    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n`

/** Returns what happened to one copy of connection.js. */
export function patchSource(src) {
  if (src.includes(MARKER)) return { src, status: 'already patched' }
  const teardowns = src.split(TEARDOWN).length - 1
  if (!src.includes(NEXT_WRITE) || teardowns !== 2) return { src, status: 'code changed: not patched' }
  return { src: src.replace(NEXT_WRITE, NEXT_WRITE_GUARDED).split(TEARDOWN).join(TEARDOWN_RESET), status: 'patched' }
}

function main() {
  for (const rel of ['src/connection.js', 'cjs/src/connection.js']) {
    const file = join(root, rel)
    if (!existsSync(file)) continue
    const { src, status } = patchSource(readFileSync(file, 'utf8'))
    if (status === 'patched') writeFileSync(file, src)
    if (status.startsWith('code changed')) console.warn(`kale-pool: postgres ${rel}: ${status} (see scripts/patch-postgres.mjs)`)
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main()
