import net, { type AddressInfo } from 'node:net'
import type { Test } from 'tap'

export interface IdleClosingProxy {
  /** http://127.0.0.1:<port>, to use as the storage endpoint. */
  endPoint: string
  /** Client connections accepted so far. */
  acceptedConnections(): number
  /**
   * Closes every connection open now, as a server closes idle ones, but the client learns of it
   * only when it next sends on one (the request is answered with a reset, never forwarded): the race
   * a client loses when it reuses a pooled connection just as the server gives up on it.
   */
  dropOpenConnections(): void
}

/**
 * A TCP proxy on 127.0.0.1 in front of an S3 server (radosgw keeps idle connections for a minute
 * and announces no keep-alive timeout; this makes a server that gives up on them sooner).
 * With `idleTimeoutMs`, a connection silent that long is closed: by its timer when this process's
 * event loop runs, and otherwise, measured on the wall clock, when the client next sends on it, as
 * a server in another process would have closed it while this one's loop was blocked.
 */
export async function startIdleClosingProxy(t: Test, target: string, options: { idleTimeoutMs?: number } = {}): Promise<IdleClosingProxy> {
  const { hostname, port } = new URL(target)
  const { idleTimeoutMs } = options
  const open = new Set<{ drop(): void; close(): void }>()
  let accepted = 0

  const server = net.createServer((client) => {
    accepted++
    const upstream = net.connect(Number(port), hostname)
    let lastActive = Date.now()
    let dropped = false
    const connection = {
      drop() {
        dropped = true
      },
      close() {
        open.delete(connection)
        client.destroy()
        upstream.destroy()
      },
    }
    open.add(connection)
    client.on('data', (chunk: Buffer) => {
      if (dropped || (idleTimeoutMs !== undefined && Date.now() - lastActive >= idleTimeoutMs)) {
        open.delete(connection)
        client.resetAndDestroy()
        upstream.destroy()
        return
      }
      lastActive = Date.now()
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      lastActive = Date.now()
      client.write(chunk)
    })
    if (idleTimeoutMs !== undefined) client.setTimeout(idleTimeoutMs, () => connection.close())
    client.on('close', () => connection.close())
    upstream.on('close', () => connection.close())
    client.on('error', () => connection.close())
    upstream.on('error', () => connection.close())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const connection of open) connection.close()
      }),
  )
  return {
    endPoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    acceptedConnections: () => accepted,
    dropOpenConnections() {
      for (const connection of open) connection.drop()
    },
  }
}
