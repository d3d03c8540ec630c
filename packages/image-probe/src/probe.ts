import { Transform, type TransformCallback } from 'node:stream'
import type { ImageHeader } from './header.js'
import { ImageInspector, type ProbeLimits, type ProbeResult } from './inspector.js'

/**
 * Passes a file's bytes through unchanged while deciding whether it is an acceptable PNG or JPEG.
 * A rejection is an `ImageRejectedError` stream error, raised at the chunk that settles it: a
 * wrong signature or an over-limit pixel count stops the upload before the rest is read.
 *
 * Put it in a `pipeline()` between the upload and the storage write; when the pipeline
 * resolves, `result` holds the format and dimensions.
 */
export class ImageProbe extends Transform {
  readonly #inspector: ImageInspector
  /** Resolves with the result when the input has ended and passed; rejects with the stream's error. */
  readonly done: Promise<ProbeResult>
  #resolveDone!: (result: ProbeResult) => void
  #rejectDone!: (error: Error) => void

  constructor(limits: ProbeLimits) {
    super()
    this.#inspector = new ImageInspector(limits)
    this.done = new Promise<ProbeResult>((resolve, reject) => {
      this.#resolveDone = resolve
      this.#rejectDone = reject
    })
    // Callers who only use the stream's own error handling must not get an unhandled rejection.
    this.done.catch(() => {})
  }

  /** Bytes passed through so far. */
  get bytes(): number {
    return this.#inspector.bytes
  }

  /** Format and dimensions, as soon as the header has been read and passed the pixel limit. */
  get header(): ImageHeader | undefined {
    return this.#inspector.header
  }

  /** The outcome once the input has ended and passed every check. */
  get result(): ProbeResult | undefined {
    return this.#inspector.result
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#inspector.push(chunk)
    } catch (error) {
      callback(error as Error)
      return
    }
    callback(null, chunk)
  }

  override _flush(callback: TransformCallback): void {
    let result: ProbeResult
    try {
      result = this.#inspector.finish()
    } catch (error) {
      callback(error as Error)
      return
    }
    this.#resolveDone(result)
    callback()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Settling an already resolved promise is a no-op, so only an early end rejects here.
    this.#rejectDone(error ?? new Error('the image stream was closed before it ended'))
    callback(error)
  }
}
