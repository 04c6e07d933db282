// Waiting for a promise at most so long, without stopping it: the HTTP views'
// and admin timeouts, and the pool's bounded stop (src/main.ts).

export const TIMED_OUT = Symbol('timed out')

/** `p`'s value, or TIMED_OUT after `ms`. `p` itself runs on: the caller decides what that means. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}
