import type { SourceFormat } from '@imageapi/media'

/** EXIF orientation: 1 is upright; 5–8 are rotated a quarter turn, so width and height swap on display. */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8

/** The formats the probe recognises are the media model's source formats. */
export type ImageFormat = SourceFormat

interface Dimensions {
  /** Stored pixel width, as written in the header. */
  width: number
  height: number
  /** 1 for PNG, and for JPEG without a usable EXIF orientation. */
  orientation: Orientation
  /** Width and height once the orientation is applied. */
  displayWidth: number
  displayHeight: number
}

export interface PngHeader extends Dimensions {
  format: 'png'
  bitDepth: number
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
  colorType: number
}

export interface JpegHeader extends Dimensions {
  format: 'jpeg'
  /** Colour components in the frame: 1 grey, 3 YCbCr, 4 CMYK. */
  components: number
  progressive: boolean
}

export type ImageHeader = PngHeader | JpegHeader

/** Reads the next bytes of one image format, from the file's first byte on, until its header is complete. */
export interface HeaderParser {
  /** How many leading bytes are magic; a file shorter than that was never recognised as this format. */
  readonly signatureLength: number
  /** The bytes every complete file of this format ends with, after its header. */
  readonly trailer: Uint8Array
  /** A short name of the trailer for the truncation message. */
  readonly trailerName: string
  /** Offset just past the header bytes, once the header is complete. */
  readonly headerEnd: number | undefined
  /** Consumes the next bytes; returns the header when it completes, else undefined. Throws ImageRejectedError. */
  push(bytes: Uint8Array): ImageHeader | undefined
}

export function withOrientation(width: number, height: number, orientation: Orientation): Dimensions {
  const quarterTurn = orientation >= 5
  return {
    width,
    height,
    orientation,
    displayWidth: quarterTurn ? height : width,
    displayHeight: quarterTurn ? width : height,
  }
}
