// The connector: sockets, line framing, limits, timeouts, bans, backpressure.
// Every protocol decision is the stratifier's; this file only moves bytes and
// enforces bounds. One coarse timer walks all sessions (no timer per socket).
import { setTimeout as sleep } from 'node:timers/promises'
import net from 'node:net'
import tls from 'node:tls'
import { readFileSync } from 'node:fs'
import type { Logger } from '../log.js'
import { silentLogger } from '../log.js'
import { metrics as defaultMetrics, type Metrics } from '../metrics/metrics.js'
import type { BestWorkSource, BlockEvent, PlantedEvent, ShareSink } from '../events.js'
import type { ShareVerifier } from '../workers/verifier.js'
import { parseLine, encodeError, encodeNotification, RpcCode } from './protocol.js'
import { Session } from './session.js'
import { Stratifier, Handled, type StratifierOptions } from './stratifier.js'
import type { NextLine } from './framing.js'

export interface StratumOptions extends StratifierOptions {
  stratumHost: string
  stratumPort: number
  stratumTlsPort?: number | undefined
  tlsCertFile?: string | undefined
  tlsKeyFile?: string | undefined
  stratumLineBytesMax: number
  connectionsPerIpMax: number
  subscribeTimeoutSeconds: number
  sessionIdleSeconds: number
  writeStallSeconds: number
  banSeconds: number
  /** Coarse timer period (default 1000 ms; tests pass less). */
  tickMs?: number
}

export interface StratumDeps {
  verifier: ShareVerifier
  shares: ShareSink
  logger?: Logger
  metrics?: Metrics
  now?: () => number
}

/** Lines handled per session per turn of the event loop: one chatty client cannot starve the others. */
const LINES_PER_TURN = 64
/** Unread bytes buffered per session before its socket is paused. */
const READ_PAUSE_BYTES = 16 * 1024
/** On close(), how long sessions' shares still in the verifier are waited for before sockets are destroyed. */
const CLOSE_SETTLE_MS_MAX = 2000
/** Then how long peers get to close after their socket is ended, before it is destroyed. */
const CLOSE_FLUSH_MS_MAX = 250
/** Banned IPs remembered at most (the oldest ban is forgotten first). */
const BANS_MAX = 100_000

export class StratumServer {
  readonly stratifier: Stratifier
  private readonly servers: net.Server[] = []
  private readonly perIp = new Map<string, number>()
  /** TLS connections per IP, counted from the TCP accept (before the handshake). */
  private readonly tlsPerIp = new Map<string, number>()
  /** The TCP sockets under TLS connections, handshaking or not (close() destroys what is left). */
  private readonly tlsRaw = new Set<net.Socket>()
  /** Handshake timers of TLS connections, by remote address and port. */
  private readonly handshaking = new Map<string, NodeJS.Timeout>()
  private readonly bans = new Map<string, number>()
  private readonly m: Metrics
  private readonly log: Logger
  private readonly now: () => number
  private timer: NodeJS.Timeout | undefined
  private seq = 0
  private connected = 0
  /** close() was called: no further line is handled. */
  private stopping = false
  /** Unhandled bytes per session before its socket is paused (above any partial line). */
  private readonly readPauseBytes: number

  constructor(private readonly o: StratumOptions, deps: StratumDeps) {
    this.m = deps.metrics ?? defaultMetrics()
    this.log = (deps.logger ?? silentLogger()).child({ part: 'stratum' })
    this.now = deps.now ?? Date.now
    this.readPauseBytes = Math.max(READ_PAUSE_BYTES, o.stratumLineBytesMax)
    const io = {
      send: (s: Session, line: string) => this.write(s, line),
      ban: (s: Session) => this.ban(s),
      resume: (s: Session) => {
        s.busy = false
        this.pump(s)
      },
      cork: (s: Session) => s.socket.cork(),
      uncork: (s: Session) => s.socket.uncork(),
    }
    this.stratifier = new Stratifier(o, deps.verifier, deps.shares, io, this.m, this.log, this.now)
  }

  get bestWork(): BestWorkSource {
    return this.stratifier.bestWork
  }

  get sessionCount(): number {
    return this.connected
  }

  onBlock(ev: BlockEvent): void {
    this.stratifier.onBlock(ev)
  }

  onPlanted(ev: PlantedEvent): void {
    this.stratifier.onPlanted(ev)
  }

  /** The scheduler submitted the work for (index, farmer): its jobs are stale now. */
  markWorked(index: number, farmer: string): void {
    this.stratifier.markWorked(index, farmer)
  }

  /** True while at least one listener accepts connections (the health probe). */
  get listening(): boolean {
    return this.servers.some((srv) => srv.listening)
  }

  /** Starts listening; resolves to the bound ports (useful with port 0). */
  async listen(): Promise<{ port: number; tlsPort?: number }> {
    const plain = net.createServer({ noDelay: true }, (sock) => this.accept(sock))
    const port = await bind(plain, this.o.stratumPort, this.o.stratumHost)
    this.servers.push(plain)
    let tlsPort: number | undefined
    if (this.o.stratumTlsPort !== undefined && this.o.tlsCertFile && this.o.tlsKeyFile) {
      // A handshake gets SUBSCRIBE_TIMEOUT_SECONDS (Node's handshakeTimeout did not
      // fire for a client that sends nothing), and until it completes the
      // connection is no session: it is counted per IP here and destroyed by
      // close() (one that never handshook held a stop, and with it the last
      // share flush, for Node's 120 s).
      const secure = tls.createServer({ cert: readFileSync(this.o.tlsCertFile), key: readFileSync(this.o.tlsKeyFile) }, (sock) => {
        this.handshook(sock)
        this.accept(sock)
      })
      secure.on('connection', (raw: net.Socket) => this.acceptTls(raw))
      tlsPort = await bind(secure, this.o.stratumTlsPort, this.o.stratumHost)
      this.servers.push(secure)
    }
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 1000)
    this.timer.unref()
    this.log.info({ port, tlsPort }, 'stratum listening')
    return tlsPort === undefined ? { port } : { port, tlsPort }
  }

  private refuse(sock: net.Socket, reason: string): void {
    this.m.connectionsRefusedTotal.labels(reason).inc()
    sock.destroy()
  }

  /**
   * A TLS connection before its handshake: refused when banned or when its IP
   * already has CONNECTIONS_PER_IP_MAX TLS connections (handshaking or not), so
   * connections that never complete a handshake cannot pile up.
   */
  private acceptTls(raw: net.Socket): void {
    const ip = raw.remoteAddress ?? 'unknown'
    const bannedUntil = this.bans.get(ip)
    if (bannedUntil !== undefined && bannedUntil > this.now()) return this.refuse(raw, 'banned')
    const n = this.tlsPerIp.get(ip) ?? 0
    if (n >= this.o.connectionsPerIpMax) return this.refuse(raw, 'ip_max')
    this.tlsPerIp.set(ip, n + 1)
    this.tlsRaw.add(raw)
    const key = `${ip}|${raw.remotePort ?? ''}`
    const timer = setTimeout(() => raw.destroy(), this.o.subscribeTimeoutSeconds * 1000)
    timer.unref()
    this.handshaking.set(key, timer)
    raw.once('close', () => {
      clearTimeout(timer)
      if (this.handshaking.get(key) === timer) this.handshaking.delete(key)
      this.tlsRaw.delete(raw)
      countDown(this.tlsPerIp, ip)
    })
  }

  /** The TLS handshake of `sock` completed: its handshake timer stops (the subscribe timeout takes over). */
  private handshook(sock: net.Socket): void {
    const key = `${sock.remoteAddress ?? 'unknown'}|${sock.remotePort ?? ''}`
    clearTimeout(this.handshaking.get(key))
    this.handshaking.delete(key)
  }

  private accept(sock: net.Socket): void {
    const ip = sock.remoteAddress ?? 'unknown'
    const nowMs = this.now()
    const bannedUntil = this.bans.get(ip)
    if (bannedUntil !== undefined && bannedUntil > nowMs) return this.refuse(sock, 'banned')
    if (this.connected >= this.o.sessionsMax) return this.refuse(sock, 'sessions_max')
    const fromIp = this.perIp.get(ip) ?? 0
    if (fromIp >= this.o.connectionsPerIpMax) return this.refuse(sock, 'ip_max')
    this.perIp.set(ip, fromIp + 1)
    this.connected++
    this.m.sessionsConnected.inc()
    sock.setNoDelay(true)
    const s = new Session(++this.seq, sock, ip, nowMs, this.o.stratumLineBytesMax, this.o.difficultyStart, this.log)
    this.stratifier.sessions.add(s)
    sock.on('data', (chunk: Buffer) => {
      if (s.closing || this.stopping) return // never handled: do not buffer it
      s.framer.push(chunk)
      this.pump(s)
    })
    sock.on('drain', () => {
      s.stallSinceMs = 0
      this.pump(s)
    })
    sock.on('error', () => {}) // 'close' follows; resets from miners are routine
    sock.on('close', () => this.closed(s))
  }

  private closed(s: Session): void {
    s.closing = true
    this.connected--
    this.m.sessionsConnected.dec()
    countDown(this.perIp, s.ip)
    this.stratifier.detach(s)
  }

  /**
   * Handles buffered lines strictly in order. Submits may be pipelined (several in
   * the verifier); any other line behind them is deferred until their answers are
   * written. Stops at a deferred line, a full write buffer or LINES_PER_TURN.
   */
  private pump(s: Session): void {
    if (s.closing || this.stopping) return
    if (s.busy) {
      this.flowControl(s) // bytes keep arriving behind the deferred line
      return
    }
    const sock = s.socket
    let handled = 0
    sock.cork() // responses of one turn leave in one write
    try {
      for (;;) {
        if (sock.writableNeedDrain) break // the client is not reading: stop reading it too
        if (handled >= LINES_PER_TURN) {
          setImmediate(() => this.pump(s))
          break
        }
        const line: NextLine = s.deferred ?? s.framer.next()
        s.deferred = undefined
        if (line === undefined) break
        handled++
        const behind = s.pending.length > 0
        if (line === 'oversize') {
          if (behind) {
            s.deferred = line
            s.busy = true
            break
          }
          this.fatal(s, 'Parse error: line too long')
          return
        }
        const parsed = parseLine(line)
        if (!parsed.ok) {
          if (behind) {
            s.deferred = line
            s.busy = true
            break
          }
          this.m.protocolErrorsTotal.labels(String(parsed.code)).inc()
          if (parsed.fatal) {
            this.fatal(s, parsed.message)
            return
          }
          this.write(s, encodeError(parsed.id, parsed.code, parsed.message))
          continue
        }
        if (this.stratifier.handle(s, parsed.request) === Handled.defer) {
          s.deferred = line
          s.busy = true
          break
        }
        if (s.closing) return
      }
    } finally {
      sock.uncork()
    }
    this.flowControl(s)
  }

  /**
   * Pauses reading while unhandled bytes pile up (busy or not: a flood of short
   * lines outruns LINES_PER_TURN) or the client does not read; resumes otherwise.
   * Never paused on a lone partial line (at most lineBytesMax): something always
   * wakes pump() while complete lines are buffered (resume, drain, setImmediate).
   */
  private flowControl(s: Session): void {
    const hold = s.socket.writableNeedDrain || s.framer.bufferedBytes > this.readPauseBytes
    if (hold && !s.paused) {
      s.paused = true
      s.socket.pause()
    } else if (!hold && s.paused) {
      s.paused = false
      s.socket.resume()
    }
  }

  private fatal(s: Session, message: string): void {
    this.m.protocolErrorsTotal.labels(String(RpcCode.parse)).inc()
    s.closing = true
    s.dropPending = true
    s.socket.end(encodeError(null, RpcCode.parse, message))
    // A peer that never reads must not keep the socket half-open: the stall timer or this ends it.
    setTimeout(() => s.socket.destroy(), 1000).unref()
  }

  private write(s: Session, line: string): void {
    if (line === '' || s.closing) return
    if (!s.socket.write(line) && s.stallSinceMs === 0) s.stallSinceMs = this.now()
  }

  private ban(s: Session): void {
    this.m.bansTotal.inc()
    if (this.o.banSeconds > 0) {
      if (this.bans.size >= BANS_MAX) {
        const oldest = this.bans.keys().next()
        if (!oldest.done) this.bans.delete(oldest.value)
      }
      this.bans.delete(s.ip)
      this.bans.set(s.ip, this.now() + this.o.banSeconds * 1000)
    }
    s.closing = true
    s.dropPending = true
    s.socket.end()
    setTimeout(() => s.socket.destroy(), 1000).unref()
  }

  private tick(): void {
    const nowMs = this.now()
    const subscribeMs = this.o.subscribeTimeoutSeconds * 1000
    const idleMs = this.o.sessionIdleSeconds * 1000
    const stallMs = this.o.writeStallSeconds * 1000
    for (const s of this.stratifier.sessions) {
      if (s.closing) continue
      let why: string | undefined
      if (!s.subscribed && nowMs - s.connectedMs >= subscribeMs) why = 'subscribe timeout'
      else if (nowMs - s.lastValidShareMs >= idleMs) why = 'idle'
      else if (s.stallSinceMs !== 0 && nowMs - s.stallSinceMs >= stallMs) why = 'write stall'
      if (why) {
        s.log.info({ why }, 'closing session')
        s.closing = true
        s.socket.destroy()
      }
    }
    for (const [ip, until] of this.bans) if (until <= nowMs) this.bans.delete(ip)
    this.stratifier.tick(nowMs)
  }

  /** Asks every session to reconnect (graceful shutdown, rebalancing across nodes). */
  reconnectAll(waitSeconds = 0): void {
    const line = encodeNotification('client.reconnect', ['', 0, waitSeconds])
    for (const s of this.stratifier.sessions) this.write(s, line)
  }

  /** client.show_message to every session with a worker paid to `payoutAddress` (e.g. no KALE trustline). */
  showMessage(payoutAddress: string, text: string): number {
    const line = encodeNotification('client.show_message', [text])
    let n = 0
    for (const s of this.stratifier.sessions) {
      for (const w of s.workers.values()) {
        if (w.payoutAddress !== payoutAddress) continue
        this.write(s, line)
        n++
        break
      }
    }
    return n
  }

  /**
   * Stops listening and closes every session after its shares in the verifier are
   * judged, credited and answered (PROTOCOL.md: "closes sessions after flushing
   * their shares"), waiting at most CLOSE_SETTLE_MS_MAX.
   */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.stopping = true // no further line is handled; received bytes are dropped
    const stopped = Promise.all(this.servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))))
    const settleBy = Date.now() + CLOSE_SETTLE_MS_MAX
    while (this.unsettled() && Date.now() < settleBy) await sleep(10)
    // end() rather than destroy(): the answers just written still leave. Reading
    // resumes (bytes are dropped) so the peer's FIN is seen and 'close' follows.
    for (const s of this.stratifier.sessions) {
      s.closing = true
      s.socket.end()
      if (s.paused) s.socket.resume()
    }
    const flushBy = Date.now() + CLOSE_FLUSH_MS_MAX
    while (this.stratifier.sessions.size > 0 && Date.now() < flushBy) await sleep(10)
    for (const s of this.stratifier.sessions) s.socket.destroy()
    // Connections still in their TLS handshake are no session: without this the
    // TLS server's close() waits for their handshake timeout.
    for (const raw of this.tlsRaw) raw.destroy()
    await stopped
  }

  private unsettled(): boolean {
    if (this.stratifier.draining.size > 0) return true
    for (const s of this.stratifier.sessions) if (s.pending.length > 0) return true
    return false
  }
}

/** One connection of `ip` fewer in `counts` (the entry goes at zero: the map holds only IPs connected now). */
function countDown(counts: Map<string, number>, ip: string): void {
  const n = (counts.get(ip) ?? 1) - 1
  if (n <= 0) counts.delete(ip)
  else counts.set(ip, n)
}

function bind(srv: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject)
    srv.listen({ port, host, backlog: 4096 }, () => {
      srv.off('error', reject)
      const a = srv.address()
      resolve(typeof a === 'object' && a ? a.port : port)
    })
  })
}
