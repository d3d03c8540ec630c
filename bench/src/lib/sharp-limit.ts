import sharp from 'sharp'
import { renderedSize, type RenditionFormat } from '@imageapi/media'
import type { Repositories } from '@imageapi/db'

/**
 * The limit for thumbnail work: sharp alone, in process, making the same outputs as the worker
 * from the same bytes, the same way (read the header, decode once at the largest height with EXIF
 * orientation applied, encode every height from those raw pixels; JPEG q80 without mozjpeg, PNG
 * zlib level 6; then each enabled rendition format at its configured quality and effort). No
 * storage, database or queue.
 */

export interface LimitThumbnail {
  height: number
  width: number
  /** The source-format file. */
  data: Buffer
  /** The same pixels in each rendition format asked for. */
  renditions: Array<{ format: RenditionFormat; data: Buffer }>
}

/** The rendition formats the worker makes in this run, as its database configures them. */
export async function enabledRenditions(repos: Repositories): Promise<RenditionSetting[]> {
  return (await repos.renditionFormats.list()).filter((setting) => setting.enabled).map(({ format, quality, effort }) => ({ format, quality, effort }))
}

/** A rendition format as the worker makes it (its row in rendition_formats). */
export interface RenditionSetting {
  format: RenditionFormat
  quality: number
  effort: number
}

const JPEG_QUALITY = 80
const PNG_COMPRESSION_LEVEL = 6

export async function renderLikeWorker(input: Buffer, heights: readonly number[], renditions: readonly RenditionSetting[] = []): Promise<LimitThumbnail[]> {
  const meta = await sharp(input, { failOn: 'error' }).metadata()
  const format = meta.format === 'png' ? 'png' : 'jpeg'
  const sorted = [...new Set(heights)].sort((a, b) => a - b)
  const sizes = sorted.map((height) => renderedSize(meta.autoOrient, height))
  const largest = sizes.at(-1)!
  const { data, info } = await sharp(input, { failOn: 'error' })
    .autoOrient()
    .resize(largest.width, largest.height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true })
  const out: LimitThumbnail[] = []
  for (const size of sizes) {
    let pipeline = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    if (size.width !== info.width || size.height !== info.height) pipeline = pipeline.resize(size.width, size.height, { fit: 'fill' })
    const resized = await pipeline.raw().toBuffer({ resolveWithObject: true })
    const encoder = () => sharp(resized.data, { raw: { width: resized.info.width, height: resized.info.height, channels: resized.info.channels } })
    const source = format === 'jpeg' ? encoder().jpeg({ quality: JPEG_QUALITY, mozjpeg: false }) : encoder().png({ compressionLevel: PNG_COMPRESSION_LEVEL })
    const thumbnail: LimitThumbnail = { ...size, data: await source.toBuffer(), renditions: [] }
    for (const { format: renditionFormat, quality, effort } of renditions) {
      const encoded = renditionFormat === 'webp' ? encoder().webp({ quality, effort }) : encoder().avif({ quality, effort })
      thumbnail.renditions.push({ format: renditionFormat, data: await encoded.toBuffer() })
    }
    out.push(thumbnail)
  }
  return out
}

/**
 * Renders `count` images with `inFlight` at a time, each from a fresh copy of the bytes (as the
 * worker gets a fresh buffer from storage, so libvips' operation cache cannot help).
 * Returns images per second over the whole batch.
 */
export async function limitThroughput(
  input: Buffer,
  heights: readonly number[],
  count: number,
  inFlight: number,
  renditions: readonly RenditionSetting[] = [],
): Promise<{ imagesPerSecond: number; seconds: number }> {
  let next = 0
  const started = performance.now()
  const lane = async () => {
    while (next < count) {
      next++
      await renderLikeWorker(Buffer.from(input), heights, renditions)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, lane))
  const seconds = (performance.now() - started) / 1000
  return { imagesPerSecond: count / seconds, seconds }
}

/** A single image, one at a time: what an idle machine needs at least for one upload's thumbnails. */
export async function rawSharpMs(input: Buffer, heights: readonly number[], renditions: readonly RenditionSetting[] = []): Promise<number> {
  const copy = Buffer.from(input)
  const started = performance.now()
  await renderLikeWorker(copy, heights, renditions)
  return performance.now() - started
}

export interface Similarity {
  /** Mean absolute difference per channel sample, 0..255. */
  mae: number
  /** Peak signal-to-noise ratio in dB; Infinity for identical pixels. */
  psnr: number
  sameSize: boolean
}

/** Compares two encoded images pixel by pixel (after decoding both to 8-bit sRGB). */
export async function similarity(a: Buffer, b: Buffer): Promise<Similarity> {
  const [ra, rb] = await Promise.all([a, b].map((x) => sharp(x).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true })))
  if (ra!.info.width !== rb!.info.width || ra!.info.height !== rb!.info.height) {
    return { mae: Number.NaN, psnr: Number.NaN, sameSize: false }
  }
  let abs = 0
  let sq = 0
  const n = ra!.data.length
  for (let i = 0; i < n; i++) {
    const d = ra!.data[i]! - rb!.data[i]!
    abs += Math.abs(d)
    sq += d * d
  }
  const mse = sq / n
  return { mae: abs / n, psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse), sameSize: true }
}

/** A straightforward single-step resize of the original (lanczos3, no intermediate): a quality reference. */
export async function directResize(input: Buffer, height: number): Promise<Buffer> {
  return sharp(input).autoOrient().resize({ height }).png().toBuffer()
}
