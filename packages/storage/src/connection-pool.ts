import type http from 'node:http'
import type https from 'node:https'
import type { Socket } from 'node:net'

export interface ConnectionPool {
  agent: http.Agent
  /**
   * Closes pooled connections that have been idle for longer than allowed, measured on the wall
   * clock. Call it just before every request.
   */
  closeExpired(): void
  /** Closes every pooled idle connection: once one turned out dead, those idle as long are likely dead too. */
  closeIdle(): void
}

export interface ConnectionPoolOptions {
  keepAlive: boolean
  /**
   * How long a connection may sit idle in the pool before it is closed instead of reused. It must
   * be shorter than the server's keep-alive timeout; a shorter `Keep-Alive: timeout=N` hint from the
   * server wins (Node then allows N − 1 s).
   */
  idleTimeoutMs: number
}

/**
 * An http(s) agent whose idle connections are never reused past their idle timeout, even when the
 * event loop was blocked while they idled.
 *
 * Node's agent drops an idle socket when its idle timer fires or when it sees the server close it,
 * but both are events the loop must get to. When the loop is blocked (minio hashes every Buffer it
 * puts with SHA-256 on the loop: seconds for fifty 20 MB bodies), sockets pass the server's
 * keep-alive timeout unnoticed, the server closes them, and requests issued right after the block
 * are written to dead sockets and fail with EPIPE or ECONNRESET. Checking each pooled socket's idle
 * time on the clock before every request closes that gap.
 */
export function createConnectionPool(httpModule: typeof http | typeof https, options: ConnectionPoolOptions): ConnectionPool {
  // `timeout` is what makes Node's agent close an idle socket by timer at all, and apply the
  // server's Keep-Alive hint (it ignores the hint when no timeout is set).
  const agent = new httpModule.Agent({ keepAlive: options.keepAlive, timeout: options.idleTimeoutMs })
  const idleSince = new WeakMap<Socket, number>()
  // Runs after the agent's own 'free' listener: the socket is in the pool and its idle timeout set.
  agent.on('free', (socket: Socket) => idleSince.set(socket, Date.now()))

  function closeWhere(isDone: (socket: Socket, now: number) => boolean): void {
    const now = Date.now()
    for (const sockets of Object.values(agent.freeSockets)) {
      for (const socket of sockets ?? []) {
        // A destroyed socket leaves the pool on its 'close' event, later; until then the agent
        // skips it (pooled sockets are ordered oldest first, so the dead ones come first).
        if (!socket.destroyed && isDone(socket as Socket, now)) socket.destroy()
      }
    }
  }

  return {
    agent,
    closeExpired() {
      closeWhere((socket, now) => {
        // The socket's idle timeout is what the agent set when pooling it: ours, or the server's hint if shorter.
        const idleTimeoutMs = socket.timeout !== undefined && socket.timeout > 0 ? socket.timeout : options.idleTimeoutMs
        return now - (idleSince.get(socket) ?? now) >= idleTimeoutMs
      })
    },
    closeIdle() {
      closeWhere(() => true)
    },
  }
}
