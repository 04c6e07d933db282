// One pool per data directory: DATA_DIR/kale-pool.lock holds the owner's pid.
// A lock left by a dead process (kill -9, power loss) is taken over; a lock held
// by a live process makes the second instance fail fast with a clear message.
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
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

/** Tries to take the lock (a stale one is moved aside between tries). */
const LOCK_ATTEMPTS_MAX = 3

/** Errors of a filesystem without hard links (SMB, FAT, some FUSE mounts). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])
const noLinks = (err: unknown): boolean => NO_LINKS.has((err as NodeJS.ErrnoException).code ?? '')

/** The pid a lock file names: a number (NaN when unreadable or empty), or 'gone' when there is no file. */
function ownerOf(file: string): number | 'gone' {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
    throw err
  }
}

const liveOther = (pid: number | 'gone'): pid is number => typeof pid === 'number' && Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)

function lockedBy(pid: number, dataDir: string): PoolError {
  return new PoolError(ErrorCode.LOCKED, `another kale-pool (pid ${pid}) is running on data directory ${path.resolve(dataDir)}; stop it first or set DATA_DIR`)
}

/**
 * Puts the lock file in place, whole: a hard link of the private file (fails
 * with EEXIST if a lock exists). Where the filesystem has no hard links, an
 * exclusive create then the pid (the lock is empty for a moment there).
 */
function place(mine: string, file: string): void {
  try {
    fs.linkSync(mine, file)
  } catch (err) {
    if (!noLinks(err)) throw err
    const fd = fs.openSync(file, 'wx', 0o600)
    try {
      fs.writeSync(fd, `${process.pid}\n`)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  }
}

/**
 * Takes the data directory's lock. The lock file appears whole: the pid is
 * written to a file of this process's own and hard-linked into place, which
 * fails if a lock exists (a lock created empty and written after was, for a
 * moment, an unreadable pid that a second process took for stale). A stale lock
 * is renamed aside before it is removed, and what was moved is checked: of two
 * processes that found the same stale lock, the later one cannot remove the
 * fresh lock of the first.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true })
  const file = path.join(dataDir, 'kale-pool.lock')
  const unique = () => `${process.pid}.${randomBytes(6).toString('hex')}`
  const mine = `${file}.${unique()}`
  fs.writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 })
  try {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS_MAX; attempt++) {
      try {
        place(mine, file)
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
      }
      const owner = ownerOf(file)
      if (owner === 'gone') continue
      if (liveOther(owner)) throw lockedBy(owner, dataDir)
      // Stale: its owner is gone.
      const aside = `${file}.stale.${unique()}`
      try {
        fs.renameSync(file, aside)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      const moved = ownerOf(aside)
      if (moved !== owner && liveOther(moved)) {
        // Another process took the stale lock over between our read and the rename: give it back.
        try {
          fs.linkSync(aside, file)
        } catch (err) {
          if (!noLinks(err) || fs.existsSync(file)) throw err
          fs.renameSync(aside, file)
        } finally {
          fs.rmSync(aside, { force: true })
        }
        throw lockedBy(moved, dataDir)
      }
      fs.rmSync(aside, { force: true })
    }
  } finally {
    fs.rmSync(mine, { force: true })
  }
  throw new PoolError(ErrorCode.LOCKED, `could not lock data directory ${path.resolve(dataDir)}`)
}
