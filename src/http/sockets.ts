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
 * run: the caller refuses it and closes the connection after that answer. From
 * that refusal on the connection is closing: every later request is refused
 * too, even once the queue has room again, since its answer would come after
 * the close and never be delivered (its view call would be wasted work).
 */
export class PipelineQueues {
  private readonly queues = new WeakMap<Socket, { tail: Promise<void>; depth: number; closing: boolean }>()

  constructor(readonly depthMax: number) {}

  /** Queues `serve` (which must not reject) behind the socket's earlier requests; false when the queue is full or closing. */
  run(socket: Socket, serve: () => Promise<void>): boolean {
    let q = this.queues.get(socket)
    if (q === undefined) {
      q = { tail: Promise.resolve(), depth: 0, closing: false }
      this.queues.set(socket, q)
    }
    if (q.closing) return false
    if (q.depth >= this.depthMax) {
      q.closing = true
      return false
    }
    const queue = q
    queue.depth++
    const done = (): void => {
      queue.depth--
    }
    // The tail never rejects: one failed answer must not stop the connection's later ones.
    queue.tail = queue.tail.then(serve).then(done, done)
    return true
  }

  /** An answer is still owed on `socket`: one being written (node:http's _httpMessage), or requests waiting or running. */
  owesAnswers(socket: Socket): boolean {
    return (socket as Socket & { _httpMessage?: unknown })._httpMessage != null || (this.queues.get(socket)?.depth ?? 0) > 0
  }
}

/**
 * Destroys connections whose written answers have made no progress towards the
 * client for `stallMs` (the stratum's WRITE_STALL_SECONDS, for HTTP): a client
 * that never reads must not hold one of the server's connection slots, while
 * one reading a large answer slowly but steadily is left alone. One coarse
 * timer for every connection; returns the function that stops it.
 */
export function watchWriteStalls(server: Server, stallMs: number, onStall: (socket: Socket) => void = () => {}): () => void {
  /** per connection at the last look: bytes whose writes completed, bytes libuv still queued, and since when (ms) it has owed bytes without progress (0 = none owed) */
  const watched = new Map<Socket, { sent: number; queued: number; sinceMs: number }>()
  server.on('connection', (socket: Socket) => {
    watched.set(socket, { sent: 0, queued: 0, sinceMs: 0 })
    socket.once('close', () => watched.delete(socket))
  })
  const timer = setInterval(() => {
    const now = Date.now()
    for (const [socket, w] of watched) {
      if (socket.writableLength === 0) {
        w.sinceMs = 0
        continue
      }
      const sent = socket.bytesWritten - socket.writableLength
      const queued = queuedBytes(socket)
      const progressed = sent !== w.sent || queued < w.queued
      w.sent = sent
      w.queued = queued
      if (w.sinceMs === 0 || progressed) {
        w.sinceMs = now
      } else if (now - w.sinceMs >= stallMs) {
        watched.delete(socket)
        onStall(socket)
        socket.destroy()
      }
    }
  }, Math.max(50, Math.min(1000, Math.floor(stallMs / 4))))
  timer.unref()
  return () => clearInterval(timer)
}

/**
 * Bytes of the socket's write in flight that the kernel has not taken yet
 * (node's private libuv handle; 0 without one). The public counters move only
 * when a whole write completes — bytesWritten counts what was handed to the
 * socket, writableLength drops when a write's callback runs — so one 140 KB
 * answer read at 4 KB/s would show no progress for 35 s. libuv's queue shrinks
 * whenever the kernel takes bytes (on loopback, every ~1.3 MB the client reads).
 */
function queuedBytes(socket: Socket): number {
  return (socket as Socket & { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0
}
