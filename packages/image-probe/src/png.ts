import { crc32 } from './crc32.js'
import { invalidImage, unsupportedFormat } from './errors.js'
import { withOrientation, type HeaderParser, type PngHeader } from './header.js'

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)

/** The whole IEND chunk: zero length, type, and its fixed CRC. A complete PNG ends with exactly these bytes. */
export const PNG_IEND = Uint8Array.of(0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82)

const IHDR_DATA_LENGTH = 13
/** Signature, then the IHDR chunk: length, type, 13 bytes of data, CRC. */
const HEADER_LENGTH = PNG_SIGNATURE.length + 4 + 4 + IHDR_DATA_LENGTH + 4
/** The PNG spec caps dimensions at 2^31 − 1 so they fit a signed 32-bit integer. */
const MAX_DIMENSION = 0x7fffffff

/** Bit depths the PNG spec allows for each colour type. */
const BIT_DEPTHS_BY_COLOR_TYPE = new Map<number, readonly number[]>([
  [0, [1, 2, 4, 8, 16]],
  [2, [8, 16]],
  [3, [1, 2, 4, 8]],
  [4, [8, 16]],
  [6, [8, 16]],
])

/** Buffers the first 33 bytes (signature and IHDR), checking the signature byte by byte as it arrives. */
export class PngHeaderParser implements HeaderParser {
  readonly signatureLength = PNG_SIGNATURE.length
  readonly trailer = PNG_IEND
  readonly trailerName = 'an IEND chunk'
  headerEnd: number | undefined
  readonly #header = new Uint8Array(HEADER_LENGTH)
  #filled = 0

  push(bytes: Uint8Array): PngHeader | undefined {
    const count = Math.min(bytes.length, HEADER_LENGTH - this.#filled)
    for (let i = 0; i < count; i++) {
      const offset = this.#filled + i
      if (offset < PNG_SIGNATURE.length && bytes[i] !== PNG_SIGNATURE[offset]) throw unsupportedFormat()
    }
    this.#header.set(bytes.subarray(0, count), this.#filled)
    this.#filled += count
    if (this.#filled < HEADER_LENGTH) return undefined
    this.headerEnd = HEADER_LENGTH
    return parseIhdr(this.#header)
  }
}

function parseIhdr(header: Uint8Array): PngHeader {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  let offset = PNG_SIGNATURE.length
  const length = view.getUint32(offset)
  const type = String.fromCharCode(...header.subarray(offset + 4, offset + 8))
  if (type !== 'IHDR' || length !== IHDR_DATA_LENGTH) throw invalidImage('the PNG does not start with an IHDR chunk')
  // The CRC covers the chunk type and data, not the length.
  const typeAndData = header.subarray(offset + 4, offset + 8 + IHDR_DATA_LENGTH)
  const storedCrc = view.getUint32(offset + 8 + IHDR_DATA_LENGTH)
  if (crc32(typeAndData) !== storedCrc) throw invalidImage('the PNG header checksum does not match')

  offset += 8
  const width = view.getUint32(offset)
  const height = view.getUint32(offset + 4)
  const bitDepth = view.getUint8(offset + 8)
  const colorType = view.getUint8(offset + 9)
  const compressionMethod = view.getUint8(offset + 10)
  const filterMethod = view.getUint8(offset + 11)
  const interlaceMethod = view.getUint8(offset + 12)
  if (width === 0 || height === 0 || width > MAX_DIMENSION || height > MAX_DIMENSION) {
    throw invalidImage(`the PNG header gives impossible dimensions ${width}×${height}`)
  }
  if (!BIT_DEPTHS_BY_COLOR_TYPE.get(colorType)?.includes(bitDepth)) {
    throw invalidImage(`the PNG header gives colour type ${colorType} with bit depth ${bitDepth}`)
  }
  // PNG defines only compression 0 (deflate), filter method 0, and interlace 0 (none) or 1 (Adam7).
  if (compressionMethod !== 0 || filterMethod !== 0 || interlaceMethod > 1) {
    throw invalidImage('the PNG header names an unknown compression, filter or interlace method')
  }
  return { format: 'png', ...withOrientation(width, height, 1), bitDepth, colorType }
}
