import { invalidImage, unsupportedFormat } from './errors.js'
import { readExifOrientation } from './exif.js'
import { withOrientation, type HeaderParser, type JpegHeader, type Orientation } from './header.js'
import { formatBytes } from './units.js'

const SOI = [0xff, 0xd8]
const MARKER_PREFIX = 0xff
/** Marker codes (the byte after 0xFF) this parser treats specially. */
const STUFFED_ZERO = 0x00
const TEM = 0x01
const SOI_CODE = 0xd8
const EOI = 0xd9
const SOS = 0xda
const APP1 = 0xe1

/** SOF0–SOF15 share C0–CF with DHT (C4), JPG (C8) and DAC (CC), which are not frame headers. */
function isStartOfFrame(code: number): boolean {
  return code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc
}

function isProgressive(startOfFrame: number): boolean {
  return startOfFrame === 0xc2 || startOfFrame === 0xc6 || startOfFrame === 0xca || startOfFrame === 0xce
}

/** RST0–RST7 and TEM stand alone: no length, no payload. */
function isStandalone(code: number): boolean {
  return code === TEM || (code >= 0xd0 && code <= 0xd7)
}

/** Where the parser is inside the marker stream; kept between chunks so any split point works. */
type Step =
  | { kind: 'soi' }
  | { kind: 'marker-prefix' }
  | { kind: 'marker-code' }
  | { kind: 'length'; marker: number; highByte: number | undefined }
  | { kind: 'skip'; remaining: number }
  | { kind: 'collect'; marker: number; payload: Uint8Array; filled: number }

/**
 * Walks the marker segments from SOI to the first frame header (SOFn), keeping only the
 * segments it reads (the frame header and EXIF APP1, each under 64 KiB) and counting past
 * the rest. The frame header must end within `maxHeaderBytes` of the start of the file,
 * which bounds the work done before the pixel limit can be checked.
 */
export class JpegHeaderParser implements HeaderParser {
  /** FF D8 FF: SOI and the prefix of the first marker. */
  readonly signatureLength = 3
  readonly trailer = Uint8Array.of(MARKER_PREFIX, EOI)
  readonly trailerName = 'an end-of-image (EOI) marker'
  headerEnd: number | undefined
  #position = 0
  #step: Step = { kind: 'soi' }
  #orientation: Orientation | undefined

  constructor(private readonly maxHeaderBytes: number) {}

  push(bytes: Uint8Array): JpegHeader | undefined {
    let i = 0
    while (i < bytes.length) {
      const step = this.#step
      switch (step.kind) {
        case 'soi': {
          if (bytes[i] !== SOI[this.#position]) throw unsupportedFormat()
          i++
          this.#position++
          if (this.#position === SOI.length) this.#step = { kind: 'marker-prefix' }
          break
        }
        case 'marker-prefix': {
          this.#checkWithinHeaderLimit(this.#position + 1)
          if (bytes[i] !== MARKER_PREFIX) {
            // The byte after SOI is the third magic byte: without it this is no JPEG at all.
            throw this.#position === SOI.length ? unsupportedFormat() : invalidImage('expected a JPEG marker')
          }
          i++
          this.#position++
          this.#step = { kind: 'marker-code' }
          break
        }
        case 'marker-code': {
          this.#checkWithinHeaderLimit(this.#position + 1)
          const code = bytes[i]!
          i++
          this.#position++
          // Any number of 0xFF fill bytes may precede a marker code.
          if (code !== MARKER_PREFIX) this.#step = this.#afterMarkerCode(code)
          break
        }
        case 'length': {
          const byte = bytes[i]!
          i++
          this.#position++
          if (step.highByte === undefined) {
            step.highByte = byte
            break
          }
          // The length counts its own two bytes.
          const payloadLength = ((step.highByte << 8) | byte) - 2
          if (payloadLength < 0) throw invalidImage('a JPEG segment has an impossible length')
          this.#checkWithinHeaderLimit(this.#position + payloadLength)
          this.#step = this.#wantsPayload(step.marker)
            ? { kind: 'collect', marker: step.marker, payload: new Uint8Array(payloadLength), filled: 0 }
            : { kind: 'skip', remaining: payloadLength }
          break
        }
        case 'skip': {
          const count = Math.min(step.remaining, bytes.length - i)
          i += count
          this.#position += count
          step.remaining -= count
          break
        }
        case 'collect': {
          const count = Math.min(step.payload.length - step.filled, bytes.length - i)
          step.payload.set(bytes.subarray(i, i + count), step.filled)
          i += count
          this.#position += count
          step.filled += count
          break
        }
      }
      // Checked after every step, not only after payload bytes, because a segment of length 2 has none.
      const header = this.#finishSegment()
      if (header !== undefined) return header
    }
    return undefined
  }

  #afterMarkerCode(code: number): Step {
    if (isStandalone(code)) return { kind: 'marker-prefix' }
    if (code === STUFFED_ZERO) throw invalidImage('expected a JPEG marker')
    if (code === SOI_CODE) throw invalidImage('the JPEG starts twice')
    if (code === SOS || code === EOI) throw invalidImage('the JPEG has no frame header')
    return { kind: 'length', marker: code, highByte: undefined }
  }

  #wantsPayload(marker: number): boolean {
    return isStartOfFrame(marker) || (marker === APP1 && this.#orientation === undefined)
  }

  /** Acts on a segment whose payload is complete, if there is one; returns the header at the frame header. */
  #finishSegment(): JpegHeader | undefined {
    const step = this.#step
    if (step.kind === 'skip' && step.remaining === 0) {
      this.#step = { kind: 'marker-prefix' }
    } else if (step.kind === 'collect' && step.filled === step.payload.length) {
      this.#step = { kind: 'marker-prefix' }
      if (step.marker === APP1) {
        this.#orientation = readExifOrientation(step.payload)
      } else {
        this.headerEnd = this.#position
        return this.#readFrameHeader(step.marker, step.payload)
      }
    }
    return undefined
  }

  #readFrameHeader(marker: number, payload: Uint8Array): JpegHeader {
    // Precision (1), height (2), width (2), component count (1), then 3 bytes per component.
    if (payload.length < 6) throw invalidImage('the JPEG frame header is too short')
    const height = (payload[1]! << 8) | payload[2]!
    const width = (payload[3]! << 8) | payload[4]!
    const components = payload[5]!
    if (components === 0 || payload.length < 6 + 3 * components) {
      throw invalidImage('the JPEG frame header is too short')
    }
    // Height 0 means "given later in a DNL segment", which decoders in practice do not support.
    if (width === 0 || height === 0) throw invalidImage(`the JPEG frame header gives dimensions ${width}×${height}`)
    return {
      format: 'jpeg',
      ...withOrientation(width, height, this.#orientation ?? 1),
      components,
      progressive: isProgressive(marker),
    }
  }

  #checkWithinHeaderLimit(end: number): void {
    if (end > this.maxHeaderBytes) {
      throw invalidImage(`more than ${formatBytes(this.maxHeaderBytes)} of metadata before the JPEG frame header`)
    }
  }
}
