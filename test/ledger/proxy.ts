// A TCP proxy the test controls: cut() drops every connection and refuses new
// ones (the database "goes away"), restore() listens again on the same port.
import { createServer, connect, type Server, type Socket } from 'node:net'

export interface Proxy {
  port: number
  /** Connections stay open but nothing passes either way (a silent partition). */
  freeze(): void
  cut(): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startProxy(targetHost: string, targetPort: number): Promise<Proxy> {
  const sockets = new Set<Socket>()
  let frozen = false
  let server: Server | null = null
  let port = 0
  const listen = async (): Promise<void> => {
    const s = createServer((client) => {
      const upstream = connect(targetPort, targetHost)
      sockets.add(client)
      sockets.add(upstream)
      const drop = (): void => {
        client.destroy()
        upstream.destroy()
        sockets.delete(client)
        sockets.delete(upstream)
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
      // forward unless frozen: frozen bytes are dropped, as on a dead network path
      client.on('data', (d: Buffer) => {
        if (!frozen) upstream.write(d)
      })
      upstream.on('data', (d: Buffer) => {
        if (!frozen) client.write(d)
      })
    })
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
    })
    port = (s.address() as { port: number }).port
    server = s
  }
  const cut = async (): Promise<void> => {
    frozen = false
    const s = server
    server = null
    for (const sock of sockets) sock.destroy()
    sockets.clear()
    if (s) await new Promise<void>((r) => s.close(() => r()))
  }
  await listen()
  return {
    get port() {
      return port
    },
    freeze: () => {
      frozen = true
    },
    cut,
    restore: listen,
    close: cut,
  }
}
