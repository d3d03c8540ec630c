import type http from 'node:http'
import type https from 'node:https'
import { text } from 'node:stream/consumers'
import type { ClientOptions } from 'minio'
import type { ConnectionPool } from './connection-pool.js'
import { StorageUnavailableError } from './object-storage.js'

/**
 * The statuses below 500 that the minio client would retry (S3 documents them as transient). They,
 * and every 5xx, are turned into StorageUnavailableError before minio sees the response: minio's
 * retry path leaves the response unread, pinning the socket, and retrying is the caller's decision
 * (job backoff, client retry). A 5xx is the server's fault whatever its code, never the caller's.
 */
const TRANSIENT_CLIENT_STATUS_CODES = new Set([408, 429, 499])

/** What a write to, or read from, a connection the server has already closed fails with. */
const CLOSED_CONNECTION_ERROR_CODES = new Set(['EPIPE', 'ECONNRESET'])

export type MinioTransport = NonNullable<ClientOptions['transport']>

export interface StorageTransport {
  /** For minio's `transport` option, and for requests of our own. */
  transport: MinioTransport
  /**
   * Whether a request failed because the pooled connection it was sent on had been closed by the
   * server. Such a request never reached the server, so an idempotent one can be sent again.
   */
  failedOnClosedPooledConnection(error: unknown): boolean
}

/**
 * http(s).request with three additions minio lacks: pooled connections idle past their timeout
 * are closed before each request (see ConnectionPool), a silent connection fails after `timeoutMs`
 * (minio sets no timeout, so an unresponsive server would hang the caller forever), and a transient
 * 5xx answer fails the request with StorageUnavailableError after its body is drained.
 */
export function createStorageTransport(
  httpModule: typeof http | typeof https,
  pool: ConnectionPool,
  timeoutMs: number,
  /** Named in the errors, so a 503 says which storage failed. */
  endPoint: string,
): StorageTransport {
  // Errors are marked where the request is known; callers only see the error minio passes on.
  const failuresOnPooledConnections = new WeakSet<object>()

  function request(options: http.RequestOptions, onResponse: (response: http.IncomingMessage) => void): http.ClientRequest {
    pool.closeExpired()
    const clientRequest = httpModule.request(options)
    clientRequest.setTimeout(timeoutMs, () => {
      clientRequest.destroy(new StorageUnavailableError(`storage at ${endPoint} sent nothing for ${timeoutMs} ms`))
    })
    // setTimeout() above only reaches the socket once it has connected; until then a new socket
    // would have the pool's idle timeout as its connect timeout.
    clientRequest.on('socket', (socket) => {
      if (socket.connecting) socket.setTimeout(timeoutMs)
    })
    // Registered before minio's own listener, so the mark is there when minio rejects with the error.
    clientRequest.on('error', (error) => {
      if (clientRequest.reusedSocket) failuresOnPooledConnections.add(error)
    })
    clientRequest.on('response', (response) => {
      const status = response.statusCode ?? 0
      if (status < 500 && !TRANSIENT_CLIENT_STATUS_CODES.has(status)) {
        onResponse(response)
        return
      }
      // Reading the body to its end returns a keep-alive socket to the pool, and its S3 error code
      // says what went wrong. The request has already been answered, so destroy() would no longer
      // report an error to its listeners: emit one.
      const fail = (body: string) => {
        clientRequest.emit('error', new StorageUnavailableError(`storage at ${endPoint} answered ${describeErrorResponse(status, body)}`))
      }
      text(response).then(fail, () => fail(''))
    })
    return clientRequest
  }

  return {
    // Transport is typed as http.request with all its overloads; minio only calls (options, callback).
    transport: { request } as unknown as MinioTransport,
    failedOnClosedPooledConnection(error) {
      return (
        typeof error === 'object' &&
        error !== null &&
        failuresOnPooledConnections.has(error) &&
        CLOSED_CONNECTION_ERROR_CODES.has(String((error as { code?: unknown }).code))
      )
    },
  }
}

/** "HTTP 403 AccessDenied", from a status and an S3 error body (which may be empty or not XML). */
export function describeErrorResponse(status: number | undefined, body: string): string {
  const code = errorCodeOf(body)
  return code === undefined ? `HTTP ${status}` : `HTTP ${status} ${code}`
}

/** The S3 error code (`<Code>NoSuchBucket</Code>`) of an error body, if it has one. */
export function errorCodeOf(body: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1]
}
