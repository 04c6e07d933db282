// What the HTTP server does per connection beyond node:http: pipelined requests
// answered one at a time, and connections that stop reading closed. node:http
// starts a handler for every pipelined request the moment it is parsed (one
// write of 1 MB of `GET /health` started 30 000 at once), and starts no timer
// while an answer waits to be read (keepAliveTimeout begins after it is sent).
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/**
 * Runs each connection's requests one at a time, in arrival order. A request
 * that finds `depthMax` of its connection's requests waiting or running is not
 * run: the caller refuses it (and should close the connection).
 */
export class PipelineQueues {
  private readonly queues = new WeakMap<Socket, { tail: Promise<void>; depth: number }>()

  constructor(readonly depthMax: number) {}

  /** Queues `serve` (which must not reject) behind the socket's earlier requests; false when the queue is full. */
  run(socket: Socket, serve: () => Promise<void>): boolean {
    let q = this.queues.get(socket)
    if (q === undefined) {
      q = { tail: Promise.resolve(), depth: 0 }
      this.queues.set(socket, q)
    }
    if (q.depth >= this.depthMax) return false
    const queue = q
    queue.depth++
    const done = (): void => {
      queue.depth--
    }
    // The tail never rejects: one failed answer must not stop the connection's later ones.
    queue.tail = queue.tail.then(serve).then(done, done)
    return true
  }
}

/**
 * Destroys connections whose written answers have not drained for `stallMs`
 * (the stratum's WRITE_STALL_SECONDS, for HTTP): a client that never reads
 * must not hold one of the server's connection slots. One coarse timer for
 * every connection; returns the function that stops it.
 */
export function watchWriteStalls(server: Server, stallMs: number, onStall: (socket: Socket) => void = () => {}): () => void {
  /** per connection: since when (ms) it has had unsent bytes; 0 = none at the last look */
  const since = new Map<Socket, number>()
  server.on('connection', (socket: Socket) => {
    since.set(socket, 0)
    socket.once('close', () => since.delete(socket))
  })
  const timer = setInterval(() => {
    const now = Date.now()
    for (const [socket, t] of since) {
      if (socket.writableLength === 0) {
        if (t !== 0) since.set(socket, 0)
      } else if (t === 0) {
        since.set(socket, now)
      } else if (now - t >= stallMs) {
        since.delete(socket)
        onStall(socket)
        socket.destroy()
      }
    }
  }, Math.max(50, Math.min(1000, Math.floor(stallMs / 4))))
  timer.unref()
  return () => clearInterval(timer)
}
