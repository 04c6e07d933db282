// One pool per data directory: DATA_DIR/kale-pool.lock holds the owner's pid.
// A lock left by a dead process (kill -9, power loss) is taken over; a lock held
// by a live process makes the second instance fail fast with a clear message.
import fs from 'node:fs'
import path from 'node:path'
import { PoolError, ErrorCode } from './errors.js'

export interface DataDirLock {
  path: string
  release(): void
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true })
  const file = path.join(dataDir, 'kale-pool.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600)
      fs.writeSync(fd, `${process.pid}\n`)
      fs.closeSync(fd)
      return {
        path: file,
        release() {
          try {
            if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file)
          } catch {
            // already gone
          }
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const owner = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10)
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new PoolError(ErrorCode.LOCKED, `another kale-pool (pid ${owner}) is running on data directory ${path.resolve(dataDir)}; stop it first or set DATA_DIR`)
      }
      fs.rmSync(file, { force: true }) // stale: its owner is gone
    }
  }
  throw new PoolError(ErrorCode.LOCKED, `could not lock data directory ${path.resolve(dataDir)}`)
}
