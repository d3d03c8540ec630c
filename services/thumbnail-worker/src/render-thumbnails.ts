import { isSourceFormat, thumbnailWidth, type SourceFormat } from '@imageapi/media'
import sharp, { type Metadata, type Sharp } from 'sharp'

/** Largest width × height a single thumbnail may have unless the caller sets `maxOutputPixels`. */
export const DEFAULT_MAX_OUTPUT_PIXELS = 50_000_000

/**
 * Largest original the decoder accepts unless the caller sets `maxInputPixels`. The gateway
 * enforces its own (configurable) limit before storing; this is the worker's guard against
 * decoding something huge that got past it anyway.
 */
export const DEFAULT_MAX_INPUT_PIXELS = 50_000_000

/** Widest thumbnail we produce: 16383 (0x3FFF) is the largest side WebP and some viewers accept. */
export const MAX_OUTPUT_WIDTH = 16_383

const JPEG_QUALITY = 80
const PNG_COMPRESSION_LEVEL = 6

export interface RenderedThumbnail {
  height: number
  width: number
  data: Buffer
}

/** A height that could not be produced; the other heights of the same image are unaffected. */
export interface FailedThumbnail {
  height: number
  error: string
}

export type ThumbnailOutcome = RenderedThumbnail | FailedThumbnail

export interface RenderThumbnailsOptions {
  /** A variant whose width × height exceeds this gets an error entry instead of being rendered. */
  maxOutputPixels?: number
  /** Originals with more pixels than this are rejected as undecodable. */
  maxInputPixels?: number
}

export interface RenderThumbnailsResult {
  /** Thumbnails are encoded in the original's format. */
  format: SourceFormat
  /** One entry per distinct requested height, in ascending height order. */
  thumbnails: ThumbnailOutcome[]
}

/**
 * The input is not an image we can decode (unknown format, truncated, corrupt, or over the
 * input pixel limit). Retrying cannot help, so the job should be failed permanently.
 */
export class UndecodableImageError extends Error {
  override name = 'UndecodableImageError'
}

interface VariantSize {
  height: number
  width: number
}

/** A variant that will be rendered at this size, or the reason it will not be. */
type PlannedVariant = VariantSize | FailedThumbnail

/** Decoded, oriented, 8-bit pixels of the original at the size of the largest variant. */
interface DecodedPixels {
  data: Buffer
  width: number
  height: number
  channels: 1 | 2 | 3 | 4
}

interface SourceImage {
  format: SourceFormat
  /** Dimensions after applying the EXIF orientation. */
  width: number
  height: number
  /** Greyscale originals stay greyscale: smaller files, and no colour to preserve. */
  isGreyscale: boolean
}

/**
 * Renders one thumbnail per distinct height from an encoded JPEG or PNG.
 *
 * The original is decoded once, at the size of the largest variant, and every variant is
 * encoded from those raw pixels: this measured ~1.7× faster than one decode per height.
 */
export async function renderThumbnails(
  input: Buffer,
  heights: number[],
  options: RenderThumbnailsOptions = {},
): Promise<RenderThumbnailsResult> {
  const maxOutputPixels = options.maxOutputPixels ?? DEFAULT_MAX_OUTPUT_PIXELS
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS
  for (const height of heights) {
    if (!Number.isSafeInteger(height) || height < 1) {
      throw new RangeError(`thumbnail height must be a positive integer, got ${height}`)
    }
  }

  const source = await readSource(input, maxInputPixels)
  const distinctHeights = [...new Set(heights)].sort((a, b) => a - b)
  const variants = distinctHeights.map((height) => planVariant(source, height, maxOutputPixels))

  const largestRenderable = variants.filter(isRenderable).at(-1)
  if (largestRenderable === undefined) {
    // Every variant is over the size limits: nothing to decode.
    return { format: source.format, thumbnails: variants.filter(isFailed) }
  }
  const pixels = await decodeOnce(input, largestRenderable, maxInputPixels)

  const thumbnails: ThumbnailOutcome[] = []
  // Sequential on purpose: one image then occupies one libvips thread at a time, so the number
  // of jobs in flight alone decides how many cores the worker uses.
  for (const variant of variants) {
    if (isFailed(variant)) {
      thumbnails.push(variant)
      continue
    }
    const data = await encodeVariant(pixels, variant, source)
    thumbnails.push({ height: variant.height, width: variant.width, data })
  }
  return { format: source.format, thumbnails }
}

function openOriginal(input: Buffer, maxInputPixels: number): Sharp {
  // failOn 'error' rather than sharp's default 'warning': truncated or corrupt data still
  // rejects, but the harmless warnings many real-world JPEGs trigger do not fail a job forever.
  return sharp(input, { failOn: 'error', limitInputPixels: maxInputPixels })
}

async function readSource(input: Buffer, maxInputPixels: number): Promise<SourceImage> {
  let metadata: Metadata
  try {
    metadata = await openOriginal(input, maxInputPixels).metadata()
  } catch (cause) {
    throw new UndecodableImageError(`cannot read image: ${describe(cause)}`, { cause })
  }
  if (!isSourceFormat(metadata.format)) {
    throw new UndecodableImageError(`unsupported image format: ${metadata.format}`)
  }
  return {
    format: metadata.format,
    width: metadata.autoOrient.width,
    height: metadata.autoOrient.height,
    isGreyscale: metadata.space === 'b-w' || metadata.space === 'grey16',
  }
}

function planVariant(source: SourceImage, height: number, maxOutputPixels: number): PlannedVariant {
  const width = thumbnailWidth(source, height)
  if (width > MAX_OUTPUT_WIDTH) {
    return { height, width, error: `thumbnail would be ${width}×${height} px, wider than ${MAX_OUTPUT_WIDTH} px` }
  }
  if (width * height > maxOutputPixels) {
    return { height, width, error: `thumbnail would be ${width}×${height} px, more than ${maxOutputPixels} pixels` }
  }
  return { height, width }
}

function isFailed(variant: PlannedVariant): variant is FailedThumbnail {
  return 'error' in variant
}

function isRenderable(variant: PlannedVariant): variant is VariantSize {
  return !isFailed(variant)
}

async function decodeOnce(input: Buffer, size: VariantSize, maxInputPixels: number): Promise<DecodedPixels> {
  try {
    // Orientation is applied to the pixels, so no output needs (or gets) an orientation tag.
    // sharp's default raw output is 8-bit sRGB: embedded ICC profiles, CMYK and 16-bit samples
    // are converted here. Greyscale is expanded too; it is not narrowed back until encoding
    // because toColourspace('b-w') on raw output drops the alpha channel.
    const { data, info } = await openOriginal(input, maxInputPixels)
      .autoOrient()
      .resize(size.width, size.height, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true })
    return { data, width: info.width, height: info.height, channels: info.channels }
  } catch (cause) {
    throw new UndecodableImageError(`cannot decode image: ${describe(cause)}`, { cause })
  }
}

async function encodeVariant(pixels: DecodedPixels, variant: VariantSize, source: SourceImage): Promise<Buffer> {
  const { data, width, height, channels } = pixels
  let pipeline = sharp(data, { raw: { width, height, channels } })
  if (variant.width !== width || variant.height !== height) {
    // The target width was computed from the original's aspect ratio; 'fill' makes sharp use
    // it exactly instead of re-deriving it from the (already rounded) intermediate size.
    pipeline = pipeline.resize(variant.width, variant.height, { fit: 'fill' })
  }
  // Narrow greyscale originals back to one grey channel (plus alpha, if any).
  if (source.isGreyscale) pipeline = pipeline.toColourspace('b-w')
  pipeline =
    source.format === 'jpeg'
      ? // mozjpeg's trellis quantisation and progressive scans cost several times the CPU.
        pipeline.jpeg({ quality: JPEG_QUALITY, mozjpeg: false })
      : pipeline.png({ compressionLevel: PNG_COMPRESSION_LEVEL })
  return pipeline.toBuffer()
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
