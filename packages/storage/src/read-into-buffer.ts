import { finished, type Readable } from 'node:stream'

/**
 * Reads a stream that must carry exactly `length` bytes into one buffer of that size, copying each
 * chunk once. (`buffer()` from node:stream/consumers collects the chunks into a Blob and copies
 * them out again: for a 21 MB original that measured ~25% more CPU and more garbage to collect.)
 *
 * Rejects with RangeError when the stream carries more bytes (it is destroyed at once, before
 * anything is written past the end) or ends with fewer; a stream that fails or closes early
 * rejects with its error. The buffer is never handed out partly filled.
 */
export function readIntoBuffer(stream: Readable, length: number): Promise<Buffer> {
  if (!Number.isSafeInteger(length) || length < 0) return Promise.reject(new RangeError(`invalid length: ${length}`))
  const target = Buffer.allocUnsafe(length)
  let filled = 0
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      if (filled + chunk.length > length) {
        stream.destroy(new RangeError(`stream carries more than the expected ${length} bytes`))
        return
      }
      chunk.copy(target, filled)
      filled += chunk.length
    })
    finished(stream, (error) => {
      if (error) reject(error)
      else if (filled < length) reject(new RangeError(`stream ended after ${filled} of the expected ${length} bytes`))
      else resolve(target)
    })
  })
}
