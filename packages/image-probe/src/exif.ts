import type { Orientation } from './header.js'

const EXIF_IDENTIFIER = [0x45, 0x78, 0x69, 0x66, 0, 0] // "Exif\0\0"
const ORIENTATION_TAG = 0x0112
const TYPE_SHORT = 3
const TYPE_LONG = 4
const IFD_ENTRY_LENGTH = 12

/**
 * Reads the orientation from an APP1 payload, or returns undefined when the payload is not EXIF
 * or has no usable orientation. Broken EXIF is common in camera and phone files and never makes
 * the image itself unusable, so nothing here rejects the upload.
 */
export function readExifOrientation(app1Payload: Uint8Array): Orientation | undefined {
  if (app1Payload.length < EXIF_IDENTIFIER.length || !EXIF_IDENTIFIER.every((byte, i) => app1Payload[i] === byte)) {
    return undefined
  }
  const tiff = app1Payload.subarray(EXIF_IDENTIFIER.length)
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength)
  if (tiff.length < 8) return undefined
  const byteOrder = String.fromCharCode(tiff[0]!, tiff[1]!)
  if (byteOrder !== 'II' && byteOrder !== 'MM') return undefined
  const littleEndian = byteOrder === 'II'
  if (view.getUint16(2, littleEndian) !== 42) return undefined

  // All offsets inside TIFF are relative to the start of the TIFF header.
  const ifd0 = view.getUint32(4, littleEndian)
  if (ifd0 + 2 > tiff.length) return undefined
  const entryCount = view.getUint16(ifd0, littleEndian)
  for (let i = 0; i < entryCount; i++) {
    const entry = ifd0 + 2 + i * IFD_ENTRY_LENGTH
    if (entry + IFD_ENTRY_LENGTH > tiff.length) return undefined
    if (view.getUint16(entry, littleEndian) !== ORIENTATION_TAG) continue
    const type = view.getUint16(entry + 2, littleEndian)
    // The value fits in the entry's 4-byte value field, left-aligned, in the file's byte order.
    const value =
      type === TYPE_SHORT
        ? view.getUint16(entry + 8, littleEndian)
        : type === TYPE_LONG
          ? view.getUint32(entry + 8, littleEndian)
          : undefined
    return value !== undefined && value >= 1 && value <= 8 ? (value as Orientation) : undefined
  }
  return undefined
}
