import type { Readable } from 'node:stream'
import type { StreamedPutOptions, StreamTarget } from './streamed-put.js'

/** Inclusive byte offsets, as in an HTTP `Range: bytes=start-end` header. */
export interface ByteRange {
  start: number
  end: number
}

export interface ObjectInfo {
  size: number
  etag: string
  lastModified: Date
}

/** Headers the storage server sets on the response to a presigned GET (S3 `response-*` parameters). */
export interface PresignedResponseHeaders {
  contentType?: string
  contentDisposition?: string
  cacheControl?: string
}

/** Request headers a presigned PUT is bound to (see presignedPutUrl). */
export interface PresignedPutBinding {
  contentType?: string
  contentLength?: number
}

/**
 * What the services need from object storage. They depend on this interface, not on a client
 * library, so tests can substitute a fake and the backend can change.
 */
export interface ObjectStorage {
  /**
   * Stores `body` under `key`. `size` must be exact: the upload goes out as one request with that
   * Content-Length. A stream is piped through without being buffered.
   */
  putObject(key: string, body: Readable | Buffer, size: number, contentType: string): Promise<void>
  /**
   * Stores a stream whose length is not known in advance (an upload as it arrives), holding at most
   * two parts of it in memory, borrowed from the adapter's upload budget. The key and content type
   * are asked for once the first part is read, so they may depend on what the bytes turned out to
   * be. If the body fails, nothing is left in storage (a multipart upload is aborted).
   */
  putStream(body: Readable, describe: () => StreamTarget, options?: StreamedPutOptions): Promise<StreamTarget & { size: number }>
  /** Streams the object, or the given range of it. Rejects with ObjectNotFoundError when missing. */
  getObject(key: string, range?: ByteRange): Promise<Readable>
  /**
   * Like getObject, plus the number of bytes the stream will carry, as the storage server's own
   * response says: a server can set Content-Length from it even if the object just changed.
   */
  openObject(key: string, range?: ByteRange): Promise<{ body: Readable; length: number }>
  /** Reads the whole object into memory; only for callers that decode it in memory anyway. */
  getObjectBuffer(key: string): Promise<Buffer>
  /** Resolves to null when the object does not exist; rejects with StorageUnavailableError when the bucket does not. */
  statObject(key: string): Promise<ObjectInfo | null>
  /** Removes the objects; keys that do not exist are not an error. */
  removeObjects(keys: string[]): Promise<void>
  /** A URL anyone can GET the object from until it expires. Makes no request to the server. */
  presignedGetUrl(key: string, expirySeconds: number, responseHeaders?: PresignedResponseHeaders): Promise<string>
  /**
   * A URL anyone can PUT the object's bytes to until it expires. What `bound` names is covered by
   * the signature, so the storage server refuses (403) a PUT that sends anything else: with
   * `contentType`, exactly that Content-Type; with `contentLength`, exactly that many bytes (a
   * chunked body, which has no Content-Length, is refused too). Makes no request to the server.
   */
  presignedPutUrl(key: string, expirySeconds: number, bound?: PresignedPutBinding): Promise<string>
  /**
   * Copies an object inside the bucket on the server (no bytes pass through the caller): the
   * target is one whole version of the source, even if the source is being replaced meanwhile.
   * (Conditional copies are left out: radosgw ignores x-amz-copy-source-if-match.) Rejects with
   * ObjectNotFoundError when the source is missing.
   */
  copyObject(sourceKey: string, targetKey: string): Promise<void>
  /** Aborts every unfinished multipart upload to `key` (their parts are stored, yet no object shows them). */
  abortIncompleteUploads(key: string): Promise<void>
  /** Creates the bucket unless it exists. */
  ensureBucket(): Promise<void>
  /** Resolves when the server answers and the bucket exists; otherwise rejects with StorageUnavailableError. */
  ping(): Promise<void>
}

/** The storage server cannot be used right now (refused, unresolvable, timed out, or answering 5xx). Maps to HTTP 503. */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'StorageUnavailableError'
  }
}

/** The requested object does not exist. Maps to HTTP 404. */
export class ObjectNotFoundError extends Error {
  constructor(
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(`object not found: ${key}`, options)
    this.name = 'ObjectNotFoundError'
  }
}

