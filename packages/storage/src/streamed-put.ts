import type { Readable } from 'node:stream'
import type { PartBufferPool } from './part-buffer-pool.js'

/** S3's smallest part but the last (AWS, MinIO and radosgw all refuse smaller ones). */
export const MIN_PART_BYTES = 5 * 1024 * 1024

/** Where a streamed object goes; asked once the first part is buffered, so it may depend on the bytes. */
export interface StreamTarget {
  key: string
  contentType: string
}

/** The S3 requests a streamed put is made of; the adapter supplies them (with its retries and error mapping). */
export interface MultipartRequests {
  putBuffer(key: string, body: Buffer, contentType: string): Promise<void>
  initiate(key: string, contentType: string): Promise<string>
  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string>
  complete(key: string, uploadId: string, parts: Array<{ part: number; etag: string }>): Promise<void>
  abort(key: string, uploadId: string): Promise<void>
}

export interface StreamedPutOptions {
  /** An upper bound of the body's size, if one is known (e.g. the request's Content-Length): a small body then borrows only that. */
  sizeHint?: number
}

/**
 * Stores a stream of unknown length without holding it whole: a body that fits in one part goes
 * out as one PUT; a longer one as a multipart upload whose parts are sent while the next one is
 * read (at most two parts in memory per upload, both borrowed from `pool`). If the body fails
 * (a check on the way rejected it, or the client went away) the multipart upload is aborted, so
 * nothing is left behind: no object, no part. On any failure the body is destroyed.
 */
export async function putStreamed(
  requests: MultipartRequests,
  pool: PartBufferPool,
  body: Readable,
  describe: () => StreamTarget,
  options: StreamedPutOptions = {},
): Promise<StreamTarget & { size: number }> {
  const { partBytes } = pool
  const firstBytes = Math.min(partBytes, options.sizeHint !== undefined && options.sizeHint >= 0 ? options.sizeHint + 1 : partBytes)
  const parts = new PartReader(body, pool)
  let multipart: { target: StreamTarget; uploadId: string; sending: Array<Promise<{ part: number; etag: string }>> } | undefined
  try {
    const first = await parts.next(firstBytes)
    if (first.last) {
      const target = describe()
      await requests.putBuffer(target.key, first.buffer, target.contentType)
      parts.done(first)
      return { ...target, size: first.buffer.length }
    }
    const target = describe()
    multipart = { target, uploadId: await requests.initiate(target.key, target.contentType), sending: [] }
    let size = 0
    for (let piece = first, number = 1; ; number++) {
      size += piece.buffer.length
      const part = number
      const sent = piece
      const upload = multipart
      const sending = requests.uploadPart(target.key, upload.uploadId, part, sent.buffer).then((etag) => {
        parts.done(sent)
        return { part, etag }
      })
      // a failure is taken up below or by Promise.all; until then it must not count as unhandled
      sending.catch(() => {})
      upload.sending.push(sending)
      // the previous part must have arrived before a third is read: two parts in memory at most
      if (upload.sending.length >= 2) await upload.sending[upload.sending.length - 2]
      if (piece.last) break
      piece = await parts.next(partBytes)
      // a part but the last must be full; an empty last part is not needed
      if (piece.buffer.length === 0) {
        parts.done(piece)
        break
      }
    }
    const etags = await Promise.all(multipart.sending)
    await requests.complete(target.key, multipart.uploadId, etags)
    return { ...target, size }
  } catch (error) {
    parts.stop()
    if (multipart) {
      const { target, uploadId, sending } = multipart
      // parts still being sent would otherwise land after the abort and be kept
      await Promise.allSettled(sending)
      await requests.abort(target.key, uploadId).catch(() => {
        // Nothing more can be done here; storage expires incomplete uploads by its lifecycle rules.
      })
    }
    parts.releaseAll()
    throw error
  }
}

interface Piece {
  /** The bytes read, within `allocation`. */
  buffer: Buffer
  /** The buffer lent by the pool, given back whole. */
  allocation: Buffer
  /** The body ended within this piece. */
  last: boolean
}

/** Reads a body into part-sized buffers lent by the pool, pulling only as fast as parts are taken. */
class PartReader {
  readonly #iterator: AsyncIterator<Buffer>
  #carry: Buffer | undefined
  #ended = false
  readonly #lent = new Set<Piece>()

  constructor(
    body: Readable,
    private readonly pool: PartBufferPool,
  ) {
    this.#iterator = body[Symbol.asyncIterator]()
  }

  /**
   * The next `size` bytes, or fewer when the body ends first (then `last`). When the first buffer
   * borrowed was smaller than a part and the body goes on, it grows to a whole part.
   */
  async next(size: number): Promise<Piece> {
    const allocation = await this.pool.take(size)
    let piece: Piece = { buffer: allocation, allocation, last: false }
    this.#lent.add(piece)
    let filled = 0
    for (;;) {
      if (filled === piece.buffer.length) {
        if (piece.buffer.length >= this.pool.partBytes) break
        // the size hint was too small (it is only a hint): grow this piece to a whole part
        piece = await this.#grow(piece, filled)
        continue
      }
      const chunk = this.#carry ?? (this.#ended ? undefined : await this.#read())
      this.#carry = undefined
      if (chunk === undefined) {
        piece.last = true
        piece.buffer = piece.buffer.subarray(0, filled)
        return piece
      }
      const taken = Math.min(chunk.length, piece.buffer.length - filled)
      chunk.copy(piece.buffer, filled, 0, taken)
      filled += taken
      if (taken < chunk.length) this.#carry = chunk.subarray(taken)
    }
    // full: the body may end exactly here, which makes this the last piece
    if (this.#carry === undefined && !this.#ended) {
      const chunk = await this.#read()
      if (chunk === undefined) piece.last = true
      else this.#carry = chunk
    } else if (this.#carry === undefined) piece.last = true
    return piece
  }

  async #grow(piece: Piece, filled: number): Promise<Piece> {
    // the small buffer goes back first: waiting for a whole part while holding it could starve the pool
    const kept = Buffer.from(piece.allocation.subarray(0, filled))
    this.done(piece)
    const allocation = await this.pool.take(this.pool.partBytes)
    kept.copy(allocation)
    const grown: Piece = { buffer: allocation, allocation, last: false }
    this.#lent.add(grown)
    return grown
  }

  async #read(): Promise<Buffer | undefined> {
    const { value, done } = await this.#iterator.next()
    if (done) {
      this.#ended = true
      return undefined
    }
    return Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array)
  }

  /** The piece was sent: its buffer goes back to the pool. */
  done(piece: Piece): void {
    if (!this.#lent.delete(piece)) return
    this.pool.give(piece.allocation)
  }

  /** Reads no more: the body is destroyed (if it has not failed already). */
  stop(): void {
    void this.#iterator.return?.()
  }

  releaseAll(): void {
    for (const piece of [...this.#lent]) this.done(piece)
  }
}
