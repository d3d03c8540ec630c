import { createHash, createHmac } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import { Transform, type Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { pipeline } from 'node:stream/promises'
import { Client, CopyDestinationOptions, CopySourceOptions, type ClientOptions } from 'minio'
import {
  ObjectNotFoundError,
  StorageUnavailableError,
  type ByteRange,
  type ObjectInfo,
  type ObjectStorage,
  type PresignedPutBinding,
  type PresignedResponseHeaders,
} from './object-storage.js'
import { readIntoBuffer } from './read-into-buffer.js'
import { createConnectionPool } from './connection-pool.js'
import { createStorageTransport, describeErrorResponse, errorCodeOf } from './transport.js'
import { PartBufferPool } from './part-buffer-pool.js'
import { MIN_PART_BYTES, putStreamed, type MultipartRequests } from './streamed-put.js'

export interface MinioStorageConfig {
  /** Base URL of the S3 server, e.g. http://127.0.0.1:9000. Buckets are addressed path-style. */
  endPoint: string
  /**
   * Where clients reach the same server, when not at `endPoint` (which may be an address only the
   * services can reach, such as a container name): presigned URLs are made for this address, whose
   * host is part of their signature. Defaults to `endPoint`.
   */
  publicEndPoint?: string
  accessKey: string
  secretKey: string
  bucket: string
  /** Defaults to us-east-1. Set explicitly so the client never asks the server for a bucket's location. */
  region?: string
  /**
   * Reuse connections (the default). Tests pass false: idle keep-alive sockets hold the
   * process open for seconds after the last request.
   */
  keepAlive?: boolean
  /**
   * How long a connection may stay silent (connecting, waiting for an answer, or mid-transfer)
   * before the request fails with StorageUnavailableError. Defaults to 10 s.
   */
  timeoutMs?: number
  /**
   * How long a pooled connection may sit idle before it is closed instead of reused. Keep it below
   * the idle timeout of the server and of any proxy in front of it (a Node server's is 5 s); a
   * shorter one the server announces in a Keep-Alive header wins. Defaults to 4 s.
   */
  idleSocketTimeoutMs?: number
  /**
   * The memory all streamed puts in flight may hold at once (their part buffers); one that cannot
   * borrow waits. Defaults to 64 MiB.
   */
  uploadBufferBytes?: number
  /** Part size of streamed puts; at least 5 MiB (S3's minimum). Defaults to 5 MiB. */
  partBytes?: number
}

export interface MinioStorage extends ObjectStorage {
  /**
   * Every key in the bucket under `prefix`, sorted. Lists the whole prefix in memory, so it is for
   * tests (asserting nothing was left behind) and maintenance, not for request paths.
   */
  listKeys(prefix?: string): Promise<string[]>
  /** Closes pooled connections; for shutdown. */
  close(): void
}

const DEFAULT_REGION = 'us-east-1'
const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_IDLE_SOCKET_TIMEOUT_MS = 4_000
const DEFAULT_UPLOAD_BUFFER_BYTES = 64 * 1024 * 1024
// Only needs to outlive the moment the PUT starts: S3 checks the signature when a request arrives.
const STREAMED_PUT_URL_EXPIRY_SECONDS = 15 * 60

/** Socket and DNS error codes that mean the server cannot be reached. */
const UNREACHABLE_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
])

/** S3 error codes that mean the server does not accept this client's access key and secret. */
const REFUSED_CREDENTIALS_ERROR_CODES = new Set(['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'AccessDenied'])

export function createMinioStorage(config: MinioStorageConfig): MinioStorage {
  const endPointUrl = parseEndPoint(config.endPoint)
  const httpModule = endPointUrl.protocol === 'https:' ? https : http
  const pool = createConnectionPool(httpModule, {
    keepAlive: config.keepAlive ?? true,
    idleTimeoutMs: config.idleSocketTimeoutMs ?? DEFAULT_IDLE_SOCKET_TIMEOUT_MS,
  })
  const { agent } = pool
  const { transport, failedOnClosedPooledConnection } = createStorageTransport(httpModule, pool, config.timeoutMs ?? DEFAULT_TIMEOUT_MS, config.endPoint)
  const { bucket } = config
  const region = config.region ?? DEFAULT_REGION
  const clientFor = (url: URL, connection: Pick<ClientOptions, 'transport' | 'transportAgent'> = {}) =>
    new Client({
      endPoint: withoutBrackets(url.hostname),
      port: url.port === '' ? undefined : Number(url.port),
      useSSL: url.protocol === 'https:',
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      region,
      pathStyle: true,
      ...connection,
    })
  const client = clientFor(endPointUrl, { transport, transportAgent: agent })
  // Presigning is computed locally (region given, so no location request is ever made): a client
  // for the public address signs URLs whose host is the one clients will send.
  const presigner = config.publicEndPoint === undefined ? client : clientFor(parseEndPoint(config.publicEndPoint))

  const missingBucketMessage = `bucket ${bucket} does not exist at ${config.endPoint}`

  /**
   * Maps client errors to the adapter's error types; `key` is the object the call was about, if any.
   * A missing bucket and refused credentials are configuration faults no retry of the request can
   * mend: they become StorageUnavailableError (a 503 naming the fault), never a bare 500.
   */
  function translateError(error: unknown, key?: string): unknown {
    if (error instanceof StorageUnavailableError || error instanceof ObjectNotFoundError) return error
    const code = (error as { code?: unknown } | null)?.code
    if (typeof code !== 'string') return error
    if (UNREACHABLE_ERROR_CODES.has(code)) {
      return new StorageUnavailableError(`storage at ${config.endPoint} is not reachable (${code})`, { cause: error })
    }
    if (code === 'NoSuchBucket') return new StorageUnavailableError(missingBucketMessage, { cause: error })
    if (REFUSED_CREDENTIALS_ERROR_CODES.has(code)) {
      return new StorageUnavailableError(`storage refused the credentials for bucket ${bucket} at ${config.endPoint} (${code})`, { cause: error })
    }
    // HEAD requests carry no error body, so a missing object shows up as the status name NotFound.
    if (key !== undefined && (code === 'NoSuchKey' || code === 'NotFound')) {
      return new ObjectNotFoundError(key, { cause: error })
    }
    return error
  }

  async function translatingErrors<T>(key: string | undefined, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      throw translateError(error, key)
    }
  }

  /**
   * Runs an idempotent request once more when it was sent on a pooled connection the server had
   * already closed (it never got an answer; a server may drop idle connections at any time, e.g.
   * on restart or with an idle timeout shorter than ours). The other idle connections are closed
   * first: they have probably gone the same way.
   */
  async function retryingOnClosedConnection<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      if (!failedOnClosedPooledConnection(error)) throw error
      pool.closeIdle()
      return operation()
    }
  }

  /**
   * Stores a stream of known size with one request, piping it through as it is read. minio's
   * putObject would first read it into memory a whole part at a time (up to 64 MiB per upload); a
   * presigned PUT carries the body with its known Content-Length and holds no more than the socket's
   * buffers.
   */
  async function putKnownLengthStream(key: string, body: Readable, size: number, contentType: string): Promise<void> {
    const url = new URL(await client.presignedPutObject(bucket, key, STREAMED_PUT_URL_EXPIRY_SECONDS))
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const request = transport.request(
        {
          protocol: url.protocol,
          hostname: withoutBrackets(url.hostname),
          port: url.port,
          path: url.pathname + url.search,
          method: 'PUT',
          agent,
          headers: { 'content-length': size, 'content-type': contentType },
        },
        resolve,
      )
      request.on('error', reject)
      pipeline(body, checkLength(size), request).catch(reject)
    })
    if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) {
      response.resume()
      return
    }
    const answer = await text(response)
    const refusal = Object.assign(new Error(`storage refused PUT of ${key}: ${describeErrorResponse(response.statusCode, answer)}`), {
      code: errorCodeOf(answer),
    })
    throw translateError(refusal)
  }

  const partBytes = Math.max(config.partBytes ?? MIN_PART_BYTES, MIN_PART_BYTES)
  const partBuffers = new PartBufferPool(config.uploadBufferBytes ?? DEFAULT_UPLOAD_BUFFER_BYTES, partBytes)
  const multipartRequests: MultipartRequests = {
    putBuffer: (key, body, contentType) =>
      retryingOnClosedConnection(() => client.putObject(bucket, key, body, body.length, { 'Content-Type': contentType })).then(() => {}),
    initiate: (key, contentType) => retryingOnClosedConnection(() => client.initiateNewMultipartUpload(bucket, key, { 'Content-Type': contentType })),
    uploadPart: async (key, uploadId, partNumber, body) => {
      const { etag } = await retryingOnClosedConnection(() =>
        client.uploadPart({ bucketName: bucket, objectName: key, uploadID: uploadId, partNumber, headers: { 'Content-Length': body.length } }, body),
      )
      return etag
    },
    complete: (key, uploadId, parts) => retryingOnClosedConnection(() => client.completeMultipartUpload(bucket, key, uploadId, parts)).then(() => {}),
    abort: (key, uploadId) => retryingOnClosedConnection(() => client.abortMultipartUpload(bucket, key, uploadId)),
  }

  const storage: MinioStorage = {
    putStream(body, describe, options) {
      return translatingErrors(undefined, () => putStreamed(multipartRequests, partBuffers, body, describe, options))
    },

    async putObject(key, body, size, contentType) {
      if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid object size: ${size}`)
      await translatingErrors(undefined, async () => {
        if (Buffer.isBuffer(body)) {
          if (body.length !== size) throw new RangeError(`buffer holds ${body.length} bytes, size says ${size}`)
          // A stream cannot be sent twice; a Buffer can.
          await retryingOnClosedConnection(() => client.putObject(bucket, key, body, size, { 'Content-Type': contentType }))
        } else {
          await putKnownLengthStream(key, body, size, contentType)
        }
      })
    },

    async getObject(key, range?: ByteRange) {
      if (range !== undefined) assertValidRange(range)
      return translatingErrors(key, () =>
        retryingOnClosedConnection(() =>
          range === undefined
            ? client.getObject(bucket, key)
            : client.getPartialObject(bucket, key, range.start, range.end - range.start + 1),
        ),
      )
    },

    async openObject(key, range?: ByteRange) {
      const body = await storage.getObject(key, range)
      const length = Number((body as Readable & { headers?: Record<string, string | undefined> }).headers?.['content-length'])
      if (!Number.isSafeInteger(length) || length < 0) {
        body.destroy()
        throw new StorageUnavailableError(`storage answered ${key} without a Content-Length`)
      }
      return { body, length }
    },

    async getObjectBuffer(key) {
      const { body, length } = await storage.openObject(key)
      try {
        return await readIntoBuffer(body, length)
      } catch (error) {
        // The server answered 200 and then did not deliver the bytes it announced (the connection
        // was cut, or the body was longer or shorter): a failed transfer, never a short buffer.
        const translated = translateError(error, key)
        if (translated instanceof StorageUnavailableError) throw translated
        throw new StorageUnavailableError(`storage did not send ${key} whole: ${(error as Error).message}`, { cause: error })
      }
    },

    async statObject(key): Promise<ObjectInfo | null> {
      try {
        const { size, etag, lastModified } = await retryingOnClosedConnection(() => client.statObject(bucket, key))
        return { size, etag, lastModified }
      } catch (error) {
        const translated = translateError(error, key)
        if (!(translated instanceof ObjectNotFoundError)) throw translated
        // A HEAD answer carries no error code, so a missing bucket reads as a missing object: ask.
        await storage.ping()
        return null
      }
    },

    async removeObjects(keys) {
      if (keys.length === 0) return
      // S3's multi-object delete reports a key that does not exist as deleted, so only real failures come back.
      const failures = await translatingErrors(undefined, () => client.removeObjects(bucket, keys))
      if (failures.length > 0) {
        throw new Error(`storage could not remove ${failures.length} of ${keys.length} objects, e.g. ${JSON.stringify(failures[0])}`)
      }
    },

    async presignedGetUrl(key, expirySeconds, responseHeaders?: PresignedResponseHeaders) {
      const parameters: Record<string, string> = {}
      if (responseHeaders?.contentType !== undefined) parameters['response-content-type'] = responseHeaders.contentType
      if (responseHeaders?.contentDisposition !== undefined) {
        parameters['response-content-disposition'] = responseHeaders.contentDisposition
      }
      if (responseHeaders?.cacheControl !== undefined) parameters['response-cache-control'] = responseHeaders.cacheControl
      return presigner.presignedGetObject(bucket, key, expirySeconds, parameters)
    },

    async presignedPutUrl(key, expirySeconds, bound: PresignedPutBinding = {}) {
      // minio presigns the path (its encoding of the key is reused) but never signs other headers.
      const unbound = new URL(await presigner.presignedPutObject(bucket, key, expirySeconds))
      if (bound.contentType === undefined && bound.contentLength === undefined) return unbound.href
      if (bound.contentLength !== undefined && (!Number.isSafeInteger(bound.contentLength) || bound.contentLength < 0)) {
        throw new RangeError(`invalid content length: ${bound.contentLength}`)
      }
      return presignPutWithHeaders(unbound, { ...config, region }, expirySeconds, bound)
    },

    async copyObject(sourceKey, targetKey) {
      const source = new CopySourceOptions({ Bucket: bucket, Object: sourceKey })
      const target = new CopyDestinationOptions({ Bucket: bucket, Object: targetKey })
      await translatingErrors(sourceKey, () => retryingOnClosedConnection(() => client.copyObject(source, target)))
    },

    async abortIncompleteUploads(key) {
      // minio's removeIncompleteUpload aborts only the newest one, and fails when there is none
      await translatingErrors(undefined, async () => {
        const uploadIds: string[] = []
        for await (const upload of client.listIncompleteUploads(bucket, key, true)) {
          if (upload.key === key) uploadIds.push(upload.uploadId)
        }
        for (const uploadId of uploadIds) await retryingOnClosedConnection(() => client.abortMultipartUpload(bucket, key, uploadId))
      })
    },

    async ensureBucket() {
      await translatingErrors(undefined, async () => {
        if (await client.bucketExists(bucket)) return
        try {
          await client.makeBucket(bucket, region)
        } catch (error) {
          // Another service starting at the same time may have created it in between.
          const code = (error as { code?: unknown }).code
          if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw error
        }
      })
    },

    async ping() {
      const exists = await translatingErrors(undefined, () => retryingOnClosedConnection(() => client.bucketExists(bucket)))
      if (!exists) throw new StorageUnavailableError(missingBucketMessage)
    },

    async listKeys(prefix = '') {
      return translatingErrors(undefined, async () => {
        const keys: string[] = []
        for await (const item of client.listObjectsV2(bucket, prefix, true)) {
          if (item.name !== undefined) keys.push(item.name)
        }
        return keys.sort()
      })
    },

    close() {
      agent.destroy()
    },
  }
  return storage
}

function parseEndPoint(endPoint: string): URL {
  let url: URL
  try {
    url = new URL(endPoint)
  } catch {
    throw new Error(`storage endpoint is not a URL: ${endPoint}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`storage endpoint must be http or https: ${endPoint}`)
  }
  // Path-style addressing puts the bucket first in the path; the client cannot add a prefix before it.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    throw new Error(`storage endpoint must not have a path or query: ${endPoint}`)
  }
  return url
}

/**
 * Passes bytes through, failing the stream when there are more or fewer than `size`, so a wrong
 * size aborts the upload instead of storing a truncated object or hanging until the server times
 * out. (Node's own strictContentLength check throws outside the pipeline, crashing the process.)
 */
function checkLength(size: number): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length
      if (seen > size) callback(new RangeError(`body is longer than the declared ${size} bytes`))
      else callback(null, chunk)
    },
    flush(callback) {
      if (seen < size) callback(new RangeError(`body ended after ${seen} of the declared ${size} bytes`))
      else callback()
    },
  })
}

/**
 * An AWS Signature V4 presigned PUT URL that also signs the Content-Type and/or Content-Length
 * headers, so the storage server refuses (403) an upload that sends any other value. `unbound` is
 * minio's presigned URL for the same object; its path (the key as minio encodes it) and host are
 * kept, its query replaced.
 */
function presignPutWithHeaders(
  unbound: URL,
  credentials: { accessKey: string; secretKey: string; region: string },
  expirySeconds: number,
  bound: PresignedPutBinding,
): string {
  const now = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '') // 20260102T030405Z
  const day = now.slice(0, 8)
  const scope = `${day}/${credentials.region}/s3/aws4_request`
  // canonical headers: lowercase names in order, values trimmed
  const headers: [string, string][] = []
  if (bound.contentLength !== undefined) headers.push(['content-length', String(bound.contentLength)])
  if (bound.contentType !== undefined) headers.push(['content-type', bound.contentType.trim()])
  headers.push(['host', unbound.host])
  const signedHeaders = headers.map(([name]) => name).join(';')
  const query = new URLSearchParams({
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${credentials.accessKey}/${scope}`,
    'X-Amz-Date': now,
    'X-Amz-Expires': String(expirySeconds),
    'X-Amz-SignedHeaders': signedHeaders,
  })
  query.sort()
  // URLSearchParams encodes as HTML forms do; SigV4 wants RFC 3986 (%20 for space, ~ left alone).
  const canonicalQuery = query.toString().replace(/\+/g, '%20').replace(/%7E/g, '~')
  const canonicalHeaders = headers.map(([name, value]) => `${name}:${value}\n`).join('')
  const canonicalRequest = ['PUT', unbound.pathname, canonicalQuery, canonicalHeaders, signedHeaders, 'UNSIGNED-PAYLOAD'].join('\n')
  const stringToSign = ['AWS4-HMAC-SHA256', now, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n')
  let signingKey: Buffer = Buffer.from(`AWS4${credentials.secretKey}`)
  for (const part of [day, credentials.region, 's3', 'aws4_request']) signingKey = createHmac('sha256', signingKey).update(part).digest()
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex')
  return `${unbound.origin}${unbound.pathname}?${canonicalQuery}&X-Amz-Signature=${signature}`
}

/** URL.hostname keeps the brackets around an IPv6 address; http.request and minio want it bare. */
function withoutBrackets(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1')
}

function assertValidRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${start}-${end}`)
  }
}
