import { ImageRejectedError, invalidImage, unsupportedFormat } from './errors.js'
import type { HeaderParser, ImageHeader } from './header.js'
import { JpegHeaderParser } from './jpeg.js'
import { PngHeaderParser } from './png.js'
import { formatBytes, formatPixels } from './units.js'

export interface ProbeLimits {
  /** Largest accepted file, in bytes. */
  maxBytes: number
  /** Largest accepted width × height. */
  maxPixels: number
  /** How far into a JPEG the frame header may end; metadata beyond it is refused. Default 256 KiB. */
  maxHeaderBytes?: number
}

export const DEFAULT_MAX_HEADER_BYTES = 256 * 1024

export type ProbeResult = ImageHeader & {
  /** Size of the whole file. */
  bytes: number
}

/** Long enough to hold PNG's IEND chunk, the longer of the two trailers. */
const TAIL_LENGTH = 12

/**
 * The probe without the stream: feed it the file's bytes in order, in pieces of any size, then
 * call `finish()`. It throws ImageRejectedError at the first byte that settles a rejection, and
 * keeps only the header bytes it needs and the last few bytes of the file.
 */
export class ImageInspector {
  readonly #maxBytes: number
  readonly #maxPixels: number
  readonly #maxHeaderBytes: number
  #bytes = 0
  #parser: HeaderParser | undefined
  #header: ImageHeader | undefined
  #tail: Uint8Array = new Uint8Array(0)
  /** Where the last copy of the format's end marker seen so far ends (an offset into the file). */
  #lastTrailerEnd: number | undefined
  #rejection: ImageRejectedError | undefined
  #result: ProbeResult | undefined

  constructor(limits: ProbeLimits) {
    this.#maxBytes = positiveLimit('maxBytes', limits.maxBytes)
    this.#maxPixels = positiveLimit('maxPixels', limits.maxPixels)
    this.#maxHeaderBytes = positiveLimit('maxHeaderBytes', limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES)
  }

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.#bytes
  }

  /** Format and dimensions, as soon as the header has been read and passed the pixel limit. */
  get header(): ImageHeader | undefined {
    return this.#header
  }

  /** The outcome once `finish()` has succeeded. */
  get result(): ProbeResult | undefined {
    return this.#result
  }

  /** Inspects the next bytes of the file. After a rejection every call throws the same error. */
  push(chunk: Uint8Array): void {
    if (this.#result !== undefined) throw new Error('ImageInspector.push() called after finish()')
    this.#guard(() => {
      // Bytes within the limit are still inspected, so the error names the first thing wrong with the file.
      const allowed = this.#maxBytes - this.#bytes
      const within = chunk.length > allowed ? chunk.subarray(0, allowed) : chunk
      if (within.length > 0) {
        this.#readHeader(within)
        this.#findTrailer(within)
        this.#bytes += within.length
        this.#rememberTail(within)
      }
      if (within.length < chunk.length) {
        throw new ImageRejectedError('too_large', `image exceeds the ${formatBytes(this.#maxBytes)} limit`)
      }
    })
  }

  /** Checks that the file was complete and returns what it is. Throws ImageRejectedError. */
  finish(): ProbeResult {
    if (this.#result !== undefined) return this.#result
    return this.#guard(() => {
      if (this.#bytes === 0) throw new ImageRejectedError('empty', 'the file is empty')
      // The first accepted byte chose a parser (or was rejected), so there is one from here on.
      const parser = this.#parser!
      if (this.#header === undefined) {
        throw this.#bytes < parser.signatureLength ? unsupportedFormat() : invalidImage()
      }
      // Rejects a cut-off file, and also anything appended after the trailer.
      const { trailer } = parser
      const trailerFollowsHeader = this.#bytes >= parser.headerEnd! + trailer.length
      const tailStart = this.#tail.length - trailer.length
      if (!trailerFollowsHeader || !trailer.every((byte, i) => this.#tail[tailStart + i] === byte)) {
        const format = this.#header.format.toUpperCase()
        // an end marker past the header that is not at the end: the file is whole, with bytes appended
        const trailerEnd = this.#lastTrailerEnd
        if (trailerEnd !== undefined && trailerEnd >= parser.headerEnd! + trailer.length && trailerEnd < this.#bytes) {
          const extra = this.#bytes - trailerEnd
          throw new ImageRejectedError(
            'invalid_image',
            `the file has data after its end marker: ${extra} ${extra === 1 ? 'byte' : 'bytes'} after the ${format}'s ${parser.trailerName.replace(/^an? /, '')}, where the image must end`,
          )
        }
        throw invalidImage(`the ${format} does not end with ${parser.trailerName}`)
      }
      this.#result = { ...this.#header, bytes: this.#bytes }
      return this.#result
    })
  }

  /**
   * Finishes a file whose middle was not read (a stored object checked with two ranged reads): the
   * bytes pushed so far are its start, `tail` its last bytes, `size` its whole length. The checks
   * are the stream's, except that bytes appended after an end marker in the unread middle go unseen.
   */
  finishWithTail(tail: Uint8Array, size: number): ProbeResult {
    if (this.#result !== undefined) throw new Error('ImageInspector.finishWithTail() called after finish()')
    if (!Number.isSafeInteger(size) || size < this.#bytes) throw new RangeError(`size ${size} is less than the ${this.#bytes} bytes read`)
    if (size === this.#bytes) return this.finish()
    return this.#guard(() => {
      if (size > this.#maxBytes) throw new ImageRejectedError('too_large', `image exceeds the ${formatBytes(this.#maxBytes)} limit`)
      const parser = this.#parser!
      if (this.#header === undefined) throw invalidImage(`no valid header in its first ${formatBytes(this.#bytes)}`)
      const unread = size - this.#bytes
      const seen = tail.subarray(Math.max(0, tail.length - unread))
      // the tail stands in for the unread bytes: where a marker in it ends, counted from the file's start
      const inTail = Buffer.from(seen.buffer, seen.byteOffset, seen.byteLength).lastIndexOf(parser.trailer)
      if (inTail >= 0) this.#lastTrailerEnd = size - seen.length + inTail + parser.trailer.length
      this.#bytes = size
      this.#rememberTail(seen)
      return this.finish()
    })
  }

  #guard<T>(inspect: () => T): T {
    if (this.#rejection !== undefined) throw this.#rejection
    try {
      return inspect()
    } catch (error) {
      if (error instanceof ImageRejectedError) this.#rejection = error
      throw error
    }
  }

  #readHeader(bytes: Uint8Array): void {
    if (this.#header !== undefined) return
    this.#parser ??= this.#parserFor(bytes[0]!)
    const header = this.#parser.push(bytes)
    if (header === undefined) return
    const pixels = header.width * header.height
    if (pixels > this.#maxPixels) {
      throw new ImageRejectedError(
        'too_many_pixels',
        `image is ${header.width}×${header.height} = ${formatPixels(pixels)}, over the ${formatPixels(this.#maxPixels)} limit`,
      )
    }
    this.#header = header
  }

  /** The first byte already tells the two formats apart: 0x89 starts PNG's signature, 0xFF JPEG's. */
  #parserFor(firstByte: number): HeaderParser {
    if (firstByte === 0x89) return new PngHeaderParser()
    if (firstByte === 0xff) return new JpegHeaderParser(this.#maxHeaderBytes)
    throw unsupportedFormat()
  }

  /**
   * Notes where the last copy of the end marker in the bytes so far ends, searching across chunk
   * boundaries with the remembered tail, so that a file with bytes appended after its end marker
   * is told apart from a cut-off one. Called before the bytes join the tail.
   */
  #findTrailer(bytes: Uint8Array): void {
    const parser = this.#parser
    if (parser === undefined) return
    const { trailer } = parser
    const inChunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).lastIndexOf(trailer)
    if (inChunk >= 0) {
      this.#lastTrailerEnd = this.#bytes + inChunk + trailer.length
      return
    }
    // a marker split between the previous bytes and these: a small window, never a copy of the chunk
    const carry = this.#tail.subarray(Math.max(0, this.#tail.length - (trailer.length - 1)))
    const window = Buffer.concat([carry, bytes.subarray(0, trailer.length - 1)])
    const across = window.lastIndexOf(trailer)
    if (across >= 0) this.#lastTrailerEnd = this.#bytes - carry.length + across + trailer.length
  }

  #rememberTail(bytes: Uint8Array): void {
    // Copies (Buffer#slice would not), so the tail does not keep a whole chunk alive.
    if (bytes.length >= TAIL_LENGTH) {
      this.#tail = new Uint8Array(bytes.subarray(bytes.length - TAIL_LENGTH))
    } else {
      const joined = new Uint8Array(this.#tail.length + bytes.length)
      joined.set(this.#tail)
      joined.set(bytes, this.#tail.length)
      this.#tail = joined.slice(Math.max(0, joined.length - TAIL_LENGTH))
    }
  }
}

function positiveLimit(name: string, value: number): number {
  if (!(value > 0)) throw new RangeError(`${name} must be a positive number, got ${value}`)
  return value
}

/** Probes a file already in memory. Synchronous; throws ImageRejectedError. */
export function probeBuffer(buffer: Uint8Array, limits: ProbeLimits): ProbeResult {
  const inspector = new ImageInspector(limits)
  inspector.push(buffer)
  return inspector.finish()
}
