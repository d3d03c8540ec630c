/// <reference path="./s3rver-module.d.ts" />
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import S3rver from 's3rver'

export interface EmbeddedS3Options {
  /** 0 (the default) picks a free port. */
  port?: number
  /** Where objects are kept. Without it a temporary directory is used and deleted on close. */
  directory?: string
  /** Buckets created before the server starts answering. */
  buckets?: string[]
  /**
   * How long an idle keep-alive connection is kept open (Node's server.keepAliveTimeout, default
   * 5 s; Node closes it about a second later than announced). Tests shorten it to reproduce clients
   * reusing connections the server has already dropped.
   */
  keepAliveTimeoutMs?: number
}

export interface EmbeddedS3 {
  endPoint: string
  accessKey: 'S3RVER'
  secretKey: 'S3RVER'
  /**
   * Closes the keep-alive connections that are idle right now, without notice, as a restarting
   * server or a proxy might: for tests of how clients cope with pooled connections going away.
   */
  closeIdleConnections(): void
  close(): Promise<void>
}

/**
 * Starts an in-process S3 server (s3rver) on 127.0.0.1. The benchmark keeps it only as a comparison
 * store: s3rver is a stand-in that accepts unsigned and wrongly signed requests and refuses multipart
 * uploads (501), so nothing else in the project uses it.
 */
export async function startEmbeddedS3(options: EmbeddedS3Options = {}): Promise<EmbeddedS3> {
  const ownsDirectory = options.directory === undefined
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'imageapi-s3-')))
  const removeOwnedDirectory = async () => {
    if (ownsDirectory) await rm(directory, { recursive: true, force: true })
  }

  const s3rver = new S3rver({
    directory,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  })
  serializeDeletes(s3rver)
  // s3rver's own run() creates its server without an 'error' listener, so a port already in
  // use crashes the process instead of rejecting; serving its handler from our server avoids that.
  const server = createServer(s3rver.getMiddleware())
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs
  let port: number
  try {
    await s3rver.configureBuckets()
    port = await listen(server, options.port ?? 0)
  } catch (error) {
    await removeOwnedDirectory()
    throw error
  }

  return {
    endPoint: `http://127.0.0.1:${port}`,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    closeIdleConnections() {
      server.closeIdleConnections()
    },
    async close() {
      const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
      // close() alone waits for open connections, e.g. a client's keep-alive socket or a
      // download nobody is reading; shutting down should not hang on them.
      server.closeAllConnections()
      await closed
      await removeOwnedDirectory()
    },
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

/**
 * s3rver deletes the keys of one DeleteObjects request concurrently, and each delete then removes
 * directories it left empty with an unguarded readdir/rmdir. Keys sharing a prefix (an image's
 * original and thumbnails) therefore race, and the request fails with HTTP 500. Running the
 * deletes one at a time removes the race; real S3 servers do not have it.
 */
function serializeDeletes(s3rver: S3rver): void {
  const { store } = s3rver
  const deleteObject = store.deleteObject.bind(store)
  let previous: Promise<unknown> = Promise.resolve()
  store.deleteObject = (bucket, key) => {
    const deletion = previous.then(() => deleteObject(bucket, key))
    previous = deletion.catch(() => {})
    return deletion
  }
}
