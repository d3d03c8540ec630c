import t, { type Test } from 'tap'
import sharp, { type OutputInfo, type Sharp } from 'sharp'
import { ssim } from 'ssim.js'
import { thumbHashToApproximateAspectRatio, thumbHashToRGBA } from 'thumbhash'
import { heightToFitInside, thumbnailWidth, type ServedFormat } from '@imageapi/media'
import {
  renderThumbnails,
  UndecodableImageError,
  type RenderedThumbnail,
  type RenditionEncoding,
  type ThumbnailOutcome,
  type ThumbnailRequest,
} from '../src/render-thumbnails.js'

// ---------------------------------------------------------------------------------------------
// Synthetic images: smooth gradients plus seeded noise, so encoders and resamplers behave as
// they do on photos (a flat colour would hide resampling and colour-conversion mistakes).

type Rgb = [number, number, number]

/** Small seeded PRNG (mulberry32), so every run sees the same pixels. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state)
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296
  }
}

const clampByte = (value: number): number => Math.max(0, Math.min(255, Math.round(value)))

/** RGB pixels of a photo-like scene: soft colour waves with sensor-like noise. */
function photoLikePixels(width: number, height: number, seed = 1): Buffer {
  const random = seededRandom(seed)
  const pixels = Buffer.alloc(width * height * 3)
  for (let y = 0; y < height; y++) {
    const vertical = Math.cos((y / height) * Math.PI * 2)
    for (let x = 0; x < width; x++) {
      const horizontal = Math.sin((x / width) * Math.PI * 3)
      const offset = (y * width + x) * 3
      const noise = (random() - 0.5) * 24
      pixels[offset] = clampByte(128 + 70 * horizontal + noise)
      pixels[offset + 1] = clampByte(120 + 60 * vertical + noise)
      pixels[offset + 2] = clampByte(110 + 50 * horizontal * vertical + (random() - 0.5) * 24)
    }
  }
  return pixels
}

/** A photo-like PNG whose left third is fully transparent, right third opaque, a ramp between. */
async function photoLikePngWithAlpha(width: number, height: number, seed: number): Promise<Buffer> {
  const rgb = photoLikePixels(width, height, seed)
  const rgba = Buffer.alloc(width * height * 4)
  const third = width / 3
  for (let i = 0; i < width * height; i++) {
    rgb.copy(rgba, i * 4, i * 3, i * 3 + 3)
    const x = i % width
    rgba[i * 4 + 3] = x < third ? 0 : x >= 2 * third ? 255 : clampByte(((x - third) / third) * 255)
  }
  return sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer()
}

function rawRgb(pixels: Buffer, width: number, height: number): Sharp {
  return sharp(pixels, { raw: { width, height, channels: 3 } })
}

function photoLikeJpeg(width: number, height: number, seed: number): Promise<Buffer> {
  return rawRgb(photoLikePixels(width, height, seed), width, height).jpeg({ quality: 90 }).toBuffer()
}

let cachedLargeJpeg: Promise<Buffer> | undefined
/** A 12 MP (4000×3000) photo-like JPEG, built once for the tests that share it. */
function largeJpeg(): Promise<Buffer> {
  return (cachedLargeJpeg ??= rawRgb(photoLikePixels(4000, 3000), 4000, 3000).jpeg({ quality: 90 }).toBuffer())
}

// ---------------------------------------------------------------------------------------------
// Requests and results.

const WEBP: RenditionEncoding = { format: 'webp', quality: 80, effort: 4 }
const AVIF: RenditionEncoding = { format: 'avif', quality: 50, effort: 4 }

/** Requests owing only the source-format file at each height. */
function sourceOnly(...heights: number[]): ThumbnailRequest[] {
  return heights.map((height) => ({ height, source: true, renditions: [] }))
}

/** Narrows an outcome to a rendered thumbnail; throwing fails the calling test. */
function rendered(outcome: ThumbnailOutcome | undefined): RenderedThumbnail {
  if (outcome === undefined || !('files' in outcome)) {
    throw new Error(`expected a rendered thumbnail, got ${JSON.stringify(outcome)}`)
  }
  return outcome
}

/** The bytes of the thumbnail's file in `format`; throwing fails the calling test. */
function fileOf(thumbnail: RenderedThumbnail, format: ServedFormat): Buffer {
  const file = thumbnail.files.find((candidate) => candidate.format === format)
  if (file === undefined) throw new Error(`no ${format} file among ${thumbnail.files.map((f) => f.format)}`)
  return file.data
}

/** The only file of a thumbnail rendered from `sourceOnly` requests. */
function onlyFile(outcome: ThumbnailOutcome | undefined): Buffer {
  const { files } = rendered(outcome)
  if (files.length !== 1) throw new Error(`expected one file, got ${files.map((f) => f.format)}`)
  return files[0]!.data
}

/** Height and width of each outcome (width false for a failed one). */
function sizes(thumbnails: ThumbnailOutcome[]): Array<[number, number | false]> {
  return thumbnails.map((thumbnail) => [thumbnail.height, 'width' in thumbnail && thumbnail.width])
}

// ---------------------------------------------------------------------------------------------
// Pixel inspection.

async function decodeRaw(image: Buffer): Promise<{ data: Buffer; info: OutputInfo }> {
  return sharp(image).raw().toBuffer({ resolveWithObject: true })
}

function pixelAt(raw: { data: Buffer; info: OutputInfo }, x: number, y: number): number[] {
  const { channels, width } = raw.info
  const offset = (y * width + x) * channels
  return [...raw.data.subarray(offset, offset + channels)]
}

function meanAbsoluteDifference(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`)
  let total = 0
  for (let i = 0; i < a.length; i++) total += Math.abs(a[i]! - b[i]!)
  return total / a.length
}

/** What a viewer sees: RGBA pixels with any transparency composited over mid-grey. */
async function visiblePixels(image: Buffer): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
  const { data, info } = await sharp(image)
    .flatten({ background: '#808080' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }
}

async function alphaChannel(image: Buffer): Promise<Buffer> {
  return sharp(image).extractChannel('alpha').raw().toBuffer()
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected the promise to reject'),
    (error: unknown) => error,
  )
}

// ---------------------------------------------------------------------------------------------
// Source-format thumbnails.

t.test('a 4000×3000 JPEG gives JPEG thumbnails of the requested heights, aspect kept', async (t) => {
  const result = await renderThumbnails(await largeJpeg(), sourceOnly(200, 400))
  t.equal(result.format, 'jpeg')
  t.same(sizes(result.thumbnails), [
    [200, 267],
    [400, 533],
  ])
  for (const outcome of result.thumbnails) {
    const thumbnail = rendered(outcome)
    t.equal(thumbnail.renderedHeight, thumbnail.height, 'rendered at the owed height')
    t.same(
      thumbnail.files.map((file) => file.format),
      ['jpeg'],
    )
    const metadata = await sharp(onlyFile(thumbnail)).metadata()
    t.match(metadata, {
      format: 'jpeg',
      width: thumbnail.width,
      height: thumbnail.height,
      space: 'srgb',
      channels: 3,
      chromaSubsampling: '4:2:0',
    })
  }
  t.notOk('placeholder' in result, 'no placeholder unless asked for')
})

t.test('the compat box height renders the largest width the box holds: 800×600 in 77 × 123 is a 77×58 file', async (t) => {
  const image = { width: 800, height: 600 }
  const height = heightToFitInside(image, { width: 77, height: 123 })!
  const original = await photoLikeJpeg(800, 600, 1)
  const thumbnail = rendered((await renderThumbnails(original, sourceOnly(height))).thumbnails[0])
  const meta = await sharp(onlyFile(thumbnail)).metadata()
  t.same([thumbnail.width, thumbnail.height, thumbnail.renderedHeight], [77, 58, 58])
  t.same([meta.width, meta.height], [77, 58], 'the encoded file has those dimensions')
  t.equal(thumbnail.width, thumbnailWidth(image, height), 'the width the media model announces')
})

t.test('output looks like rendering each height from the original separately', async (t) => {
  const original = await largeJpeg()
  const result = await renderThumbnails(original, sourceOnly(200, 400))
  for (const outcome of result.thumbnails) {
    const { width, height } = rendered(outcome)
    const reference = await sharp(original)
      .autoOrient()
      .resize(width, height, { fit: 'fill' })
      .jpeg({ quality: 80 })
      .toBuffer()
    const [ours, theirs] = await Promise.all([decodeRaw(onlyFile(outcome)), decodeRaw(reference)])
    const difference = meanAbsoluteDifference(ours.data, theirs.data)
    t.ok(difference < 3, `height ${height}: mean absolute pixel difference ${difference.toFixed(2)} < 3`)
  }
})

t.test('a PNG with alpha stays a PNG with its transparency', async (t) => {
  const png = await photoLikePngWithAlpha(300, 200, 2)
  const result = await renderThumbnails(png, sourceOnly(100, 50))
  t.equal(result.format, 'png')
  t.same(
    result.thumbnails.map((thumbnail) => thumbnail.height),
    [50, 100],
  )
  const data = onlyFile(result.thumbnails[1])
  t.match(await sharp(data).metadata(), { format: 'png', width: 150, height: 100, hasAlpha: true, channels: 4 })
  const raw = await decodeRaw(data)
  t.equal(pixelAt(raw, 10, 50)[3], 0, 'transparent region stays transparent')
  t.equal(pixelAt(raw, 140, 50)[3], 255, 'opaque region stays opaque')
})

t.test('an opaque PNG stays an opaque RGB PNG', async (t) => {
  const png = await rawRgb(photoLikePixels(120, 80, 3), 120, 80).png().toBuffer()
  const result = await renderThumbnails(png, sourceOnly(40))
  t.match(await sharp(onlyFile(result.thumbnails[0])).metadata(), {
    format: 'png',
    width: 60,
    height: 40,
    hasAlpha: false,
    channels: 3,
  })
})

t.test('EXIF orientation is applied to the pixels', async (t) => {
  // What the viewer should see: 240×160, red top-left block, green top-right block.
  const displayWidth = 240
  const displayHeight = 160
  const red: Rgb = [220, 30, 30]
  const green: Rgb = [30, 200, 30]
  const random = seededRandom(4)
  const displayed = (x: number, y: number): Rgb => {
    if (y < 40 && x < 60) return red
    if (y < 40 && x >= displayWidth - 60) return green
    const grey = 128 + (random() - 0.5) * 30
    return [grey, grey, grey]
  }

  // Where stored pixel (x, y) appears on screen, per the EXIF definition of each orientation
  // (orientation 6: stored row 0 is the visual right edge, stored column 0 the visual top).
  const W = displayWidth - 1
  const H = displayHeight - 1
  const storedToDisplayed: Record<number, (x: number, y: number) => [number, number]> = {
    1: (x, y) => [x, y],
    2: (x, y) => [W - x, y],
    3: (x, y) => [W - x, H - y],
    4: (x, y) => [x, H - y],
    5: (x, y) => [y, x],
    6: (x, y) => [W - y, x],
    7: (x, y) => [W - y, H - x],
    8: (x, y) => [y, H - x],
  }

  for (let orientation = 1; orientation <= 8; orientation++) {
    t.test(`orientation ${orientation}`, async (t) => {
      const transposed = orientation >= 5
      const storedWidth = transposed ? displayHeight : displayWidth
      const storedHeight = transposed ? displayWidth : displayHeight
      const stored = Buffer.alloc(storedWidth * storedHeight * 3)
      for (let y = 0; y < storedHeight; y++) {
        for (let x = 0; x < storedWidth; x++) {
          const [displayX, displayY] = storedToDisplayed[orientation]!(x, y)
          stored.set(displayed(displayX, displayY).map(clampByte), (y * storedWidth + x) * 3)
        }
      }
      const jpeg = await rawRgb(stored, storedWidth, storedHeight).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer()
      t.equal((await sharp(jpeg).metadata()).orientation, orientation, 'source carries the orientation tag')

      const result = await renderThumbnails(jpeg, sourceOnly(80))
      const thumbnail = rendered(result.thumbnails[0])
      t.same([thumbnail.width, thumbnail.height], [120, 80], 'dimensions are the displayed ones')
      const raw = await decodeRaw(onlyFile(thumbnail))
      t.same([raw.info.width, raw.info.height], [120, 80])

      const isRed = ([r, g, b]: number[]) => r! > 170 && g! < 90 && b! < 90
      const isGreen = ([r, g, b]: number[]) => g! > 150 && r! < 90 && b! < 90
      t.ok(isRed(pixelAt(raw, 8, 6)), `top-left is red: ${pixelAt(raw, 8, 6)}`)
      t.ok(isGreen(pixelAt(raw, 111, 6)), `top-right is green: ${pixelAt(raw, 111, 6)}`)
      for (const [x, y] of [[8, 73], [111, 73]] as const) {
        const pixel = pixelAt(raw, x, y)
        t.notOk(isRed(pixel) || isGreen(pixel), `bottom corner (${x}, ${y}) is grey: ${pixel}`)
      }
    })
  }
})

t.test('a CMYK JPEG comes out as an sRGB JPEG with the same colours', async (t) => {
  const width = 200
  const height = 150
  const random = seededRandom(6)
  const reddish = Buffer.alloc(width * height * 3)
  for (let i = 0; i < width * height; i++) {
    reddish.set([clampByte(200 + (random() - 0.5) * 30), clampByte(40 + (random() - 0.5) * 30), 50], i * 3)
  }
  const cmyk = await rawRgb(reddish, width, height).toColourspace('cmyk').jpeg().toBuffer()
  t.match(await sharp(cmyk).metadata(), { space: 'cmyk', channels: 4 }, 'source is CMYK')

  const result = await renderThumbnails(cmyk, sourceOnly(75))
  t.equal(result.format, 'jpeg')
  const data = onlyFile(result.thumbnails[0])
  t.match(await sharp(data).metadata(), { format: 'jpeg', space: 'srgb', channels: 3, width: 100, height: 75 })
  const [r, g, b] = (await sharp(data).stats()).channels.map((channel) => channel.mean)
  t.ok(r! > 160 && g! < 90 && b! < 100, `still red: mean rgb ${[r, g, b].map((v) => v!.toFixed(0))}`)
})

t.test('a 16-bit PNG comes out as an 8-bit PNG with scaled values', async (t) => {
  const width = 200
  const height = 100
  const samples = new Uint16Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Left half light orange, right half dark blue, with fine 16-bit noise.
      const fine = (x * 37 + y * 11) % 200
      const colour = x < width / 2 ? [60000, 40000, 10000] : [5000, 10000, 50000]
      samples.set(colour.map((value) => value + fine), (y * width + x) * 3)
    }
  }
  const png16 = await sharp(samples, { raw: { width, height, channels: 3 } }).toColourspace('rgb16').png().toBuffer()
  t.match(await sharp(png16).metadata(), { depth: 'ushort', bitsPerSample: 16 }, 'source is 16-bit')

  const result = await renderThumbnails(png16, sourceOnly(50))
  const data = onlyFile(result.thumbnails[0])
  t.match(await sharp(data).metadata(), { format: 'png', depth: 'uchar', bitsPerSample: 8, width: 100, height: 50 })
  const raw = await decodeRaw(data)
  const near = (actual: number[], expected: number[]) => actual.every((value, i) => Math.abs(value - expected[i]!) <= 3)
  t.ok(near(pixelAt(raw, 20, 25), [233, 156, 39]), `left is light orange: ${pixelAt(raw, 20, 25)}`)
  t.ok(near(pixelAt(raw, 80, 25), [20, 39, 195]), `right is dark blue: ${pixelAt(raw, 80, 25)}`)
})

t.test('a greyscale PNG with alpha stays greyscale with alpha; its WebP and AVIF keep the greys and the alpha', async (t) => {
  const width = 160
  const height = 120
  const random = seededRandom(7)
  const greyAlpha = Buffer.alloc(width * height * 2)
  for (let i = 0; i < width * height; i++) {
    greyAlpha[i * 2] = clampByte(60 + ((i % width) / width) * 150 + (random() - 0.5) * 20)
    greyAlpha[i * 2 + 1] = Math.floor(i / width) < height / 2 ? 0 : 255 // top half transparent
  }
  const png = await sharp(greyAlpha, { raw: { width, height, channels: 2 } }).toColourspace('b-w').png().toBuffer()
  t.match(await sharp(png).metadata(), { space: 'b-w', channels: 2, hasAlpha: true }, 'source is grey+alpha')

  const result = await renderThumbnails(png, [{ height: 60, source: true, renditions: [WEBP, AVIF] }])
  const thumbnail = rendered(result.thumbnails[0])
  t.match(await sharp(fileOf(thumbnail, 'png')).metadata(), {
    format: 'png',
    width: 80,
    height: 60,
    hasAlpha: true,
    space: 'b-w',
    channels: 2,
  })
  for (const format of ['png', 'webp', 'avif'] as const) {
    // Decoding for inspection expands grey+alpha to RGBA; alpha is the last channel either way.
    const raw = await decodeRaw(fileOf(thumbnail, format))
    t.same([raw.info.width, raw.info.height], [80, 60], `${format}: size`)
    t.equal(pixelAt(raw, 40, 10).at(-1), 0, `${format}: top half transparent`)
    t.equal(pixelAt(raw, 40, 50).at(-1), 255, `${format}: bottom half opaque`)
    const [r, g, b] = pixelAt(raw, 40, 50)
    t.ok(Math.max(r!, g!, b!) - Math.min(r!, g!, b!) <= 2, `${format}: still grey: ${[r, g, b]}`)
  }
})

t.test('a greyscale JPEG stays a greyscale JPEG', async (t) => {
  const grey = Buffer.alloc(120 * 90)
  const random = seededRandom(8)
  for (let i = 0; i < grey.length; i++) grey[i] = clampByte(100 + (random() - 0.5) * 40)
  const jpeg = await sharp(grey, { raw: { width: 120, height: 90, channels: 1 } }).toColourspace('b-w').jpeg().toBuffer()
  t.match(await sharp(jpeg).metadata(), { space: 'b-w', channels: 1 }, 'source is greyscale')

  const data = onlyFile((await renderThumbnails(jpeg, sourceOnly(30))).thumbnails[0])
  t.match(await sharp(data).metadata(), { format: 'jpeg', width: 40, height: 30, space: 'b-w', channels: 1 })
})

// ---------------------------------------------------------------------------------------------
// Renditions.

t.test('WebP and AVIF renditions of a JPEG and of a PNG with alpha have the source-format thumbnail’s size and pixels (SSIM ≥ 0.9)', async (t) => {
  const sources = {
    jpeg: await photoLikeJpeg(600, 400, 20),
    png: await photoLikePngWithAlpha(600, 400, 21),
  }
  for (const [format, original] of Object.entries(sources)) {
    const result = await renderThumbnails(original, [{ height: 200, source: true, renditions: [WEBP, AVIF] }])
    const thumbnail = rendered(result.thumbnails[0])
    t.same([thumbnail.width, thumbnail.renderedHeight], [300, 200], `${format}: rendered size`)
    const reference = fileOf(thumbnail, result.format)
    const referencePixels = await visiblePixels(reference)
    const expectedMetadata = { webp: { format: 'webp' }, avif: { format: 'heif', compression: 'av1' } } as const
    for (const rendition of ['webp', 'avif'] as const) {
      const data = fileOf(thumbnail, rendition)
      t.match(await sharp(data).metadata(), { ...expectedMetadata[rendition], width: 300, height: 200 }, `${format} → ${rendition}: a real ${rendition} file of the same size`)
      const { mssim } = ssim(await visiblePixels(data), referencePixels)
      t.ok(mssim >= 0.9, `${format} → ${rendition}: SSIM against the ${format} thumbnail ${mssim.toFixed(4)} ≥ 0.9`)
      if (format === 'png') {
        t.equal((await sharp(data).metadata()).hasAlpha, true, `${format} → ${rendition}: has alpha`)
        const alphaDifference = meanAbsoluteDifference(await alphaChannel(data), await alphaChannel(reference))
        t.ok(alphaDifference < 2, `${format} → ${rendition}: mean alpha difference ${alphaDifference.toFixed(3)} < 2`)
      }
    }
  }
})

t.test('rendition quality and effort are the ones requested: each file is byte-identical to sharp’s own encode with them', async (t) => {
  const original = await photoLikeJpeg(300, 200, 22)
  const pixels = await sharp(original).resize(150, 100, { fit: 'fill' }).raw().toBuffer()
  const reference = (encoding: RenditionEncoding) => {
    const image = rawRgb(pixels, 150, 100)
    const { quality, effort } = encoding
    return (encoding.format === 'webp' ? image.webp({ quality, effort }) : image.avif({ quality, effort })).toBuffer()
  }
  const encodings: RenditionEncoding[] = [
    { format: 'webp', quality: 30, effort: 0 },
    { format: 'webp', quality: 90, effort: 6 },
    { format: 'avif', quality: 30, effort: 2 },
    { format: 'avif', quality: 70, effort: 5 },
  ]
  for (const encoding of encodings) {
    const result = await renderThumbnails(original, [{ height: 100, source: false, renditions: [encoding] }])
    const data = fileOf(rendered(result.thumbnails[0]), encoding.format)
    t.ok(data.equals(await reference(encoding)), `${JSON.stringify(encoding)}: same bytes as sharp's encode`)
  }
})

t.test('a higher WebP quality gives a larger file for the same pixels', async (t) => {
  const original = await photoLikeJpeg(300, 200, 23)
  const result = await renderThumbnails(original, [
    { height: 100, source: false, renditions: [{ format: 'webp', quality: 30, effort: 4 }] },
  ])
  const better = await renderThumbnails(original, [
    { height: 100, source: false, renditions: [{ format: 'webp', quality: 90, effort: 4 }] },
  ])
  const low = fileOf(rendered(result.thumbnails[0]), 'webp').length
  const high = fileOf(rendered(better.thumbnails[0]), 'webp').length
  t.ok(high > low, `quality 90: ${high} bytes > quality 30: ${low} bytes`)
})

t.test('requests of one height are merged: source owed if any owes it, each rendition once (first encoding wins), files source first then renditions in request order', async (t) => {
  const original = await photoLikeJpeg(300, 200, 24)
  const slowAvif: RenditionEncoding = { format: 'avif', quality: 90, effort: 9 }
  const result = await renderThumbnails(original, [
    { height: 100, source: false, renditions: [AVIF] },
    { height: 20, source: true, renditions: [] },
    { height: 100, source: true, renditions: [WEBP, slowAvif] },
    { height: 50, source: false, renditions: [] },
    { height: 20, source: false, renditions: [WEBP, WEBP] },
  ])
  t.same(
    result.thumbnails.map((outcome) => [outcome.height, rendered(outcome).files.map((file) => file.format)]),
    [
      [20, ['jpeg', 'webp']],
      [100, ['jpeg', 'avif', 'webp']],
    ],
    'a height owing no file (50) gets no entry',
  )
  const alone = await renderThumbnails(original, [{ height: 100, source: false, renditions: [AVIF] }])
  t.ok(
    fileOf(rendered(result.thumbnails[1]), 'avif').equals(fileOf(rendered(alone.thumbnails[0]), 'avif')),
    'the AVIF is encoded with the first encoding given for it',
  )
})

t.test('only renditions, no source-format file: files are the renditions alone', async (t) => {
  const original = await photoLikeJpeg(300, 200, 25)
  const result = await renderThumbnails(original, [{ height: 40, source: false, renditions: [WEBP] }])
  t.equal(result.format, 'jpeg')
  t.same(
    rendered(result.thumbnails[0]).files.map((file) => file.format),
    ['webp'],
  )
})

// ---------------------------------------------------------------------------------------------
// Sizes and limits.

t.test('heights are deduplicated and returned in ascending order', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(300, 200, 9), 300, 200).jpeg().toBuffer()
  const result = await renderThumbnails(jpeg, sourceOnly(100, 20, 100, 50, 20))
  t.same(sizes(result.thumbnails), [
    [20, 30],
    [50, 75],
    [100, 150],
  ])
})

t.test('no upscaling: heights at or above the original render at the original size, in every format', async (t) => {
  const tiny = await rawRgb(photoLikePixels(16, 16, 10), 16, 16).png().toBuffer()
  const tinyResult = await renderThumbnails(tiny, [
    { height: 200, source: true, renditions: [WEBP, AVIF] },
    { height: 400, source: true, renditions: [WEBP] },
  ])
  t.same(
    tinyResult.thumbnails.map((outcome) => {
      const { height, width, renderedHeight } = rendered(outcome)
      return { height, width, renderedHeight }
    }),
    [
      { height: 200, width: 16, renderedHeight: 16 },
      { height: 400, width: 16, renderedHeight: 16 },
    ],
    '16×16 owed at 200 and 400: two 16×16 thumbnails',
  )
  for (const outcome of tinyResult.thumbnails) {
    for (const file of rendered(outcome).files) {
      t.match(await sharp(file.data).metadata(), { width: 16, height: 16 }, `height ${outcome.height}, ${file.format}: 16×16 file`)
    }
  }

  const jpeg = await photoLikeJpeg(300, 150, 11)
  const result = await renderThumbnails(jpeg, sourceOnly(100, 400))
  t.same(
    result.thumbnails.map((outcome) => [outcome.height, rendered(outcome).width, rendered(outcome).renderedHeight]),
    [
      [100, 200, 100],
      [400, 300, 150],
    ],
    '300×150 owed at 100 and 400: 200×100 and 300×150',
  )
  t.match(await sharp(onlyFile(result.thumbnails[1])).metadata(), { format: 'jpeg', width: 300, height: 150 })
})

t.test('an extreme aspect ratio fails only the thumbnails that would be too wide', async (t) => {
  const strip = await rawRgb(photoLikePixels(20000, 10, 11), 20000, 10).jpeg().toBuffer()
  const result = await renderThumbnails(strip, sourceOnly(400, 8))
  t.equal(result.thumbnails.length, 2)
  const [small, large] = result.thumbnails
  const smallThumbnail = rendered(small)
  t.same([smallThumbnail.width, smallThumbnail.height], [16000, 8])
  t.match(await sharp(onlyFile(smallThumbnail)).metadata(), { format: 'jpeg', width: 16000, height: 8 })
  // Not enlarged: owed at 400, it would be the original's 20000×10.
  t.match(large, { height: 400, error: /20000×10 px, wider than 16383/ })
  t.notOk(large && 'files' in large, 'no files for the failed height')
})

t.test('maxOutputPixels fails only the thumbnails above it', async (t) => {
  const result = await renderThumbnails(await largeJpeg(), sourceOnly(200, 400), { maxOutputPixels: 100_000 })
  t.match(result.thumbnails[0], { height: 200, width: 267 })
  t.match(result.thumbnails[1], { height: 400, error: /533×400.*more than 100000 pixels/ })
})

t.test('maxOutputPixels applies to the rendered size, not the owed height', async (t) => {
  const jpeg = await photoLikeJpeg(100, 50, 12)
  // Owed at 1000 it would be 2000×1000 if enlarged; it is rendered at 100×50 = 5000 pixels.
  const result = await renderThumbnails(jpeg, sourceOnly(1000), { maxOutputPixels: 5000 })
  t.match(rendered(result.thumbnails[0]), { height: 1000, width: 100, renderedHeight: 50 })
})

t.test('when no thumbnail fits, every height gets an error and nothing throws', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(300, 200, 12), 300, 200).jpeg().toBuffer()
  const result = await renderThumbnails(jpeg, sourceOnly(100, 200), { maxOutputPixels: 100 })
  t.equal(result.format, 'jpeg')
  t.match(result.thumbnails, [
    { height: 100, error: /100 px, more than 100 pixels/ },
    { height: 200, error: /300×200 px, more than 100 pixels/ },
  ])
})

t.test('no requests, or only requests owing no file, render nothing', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(30, 20, 13), 30, 20).jpeg().toBuffer()
  t.same(await renderThumbnails(jpeg, []), { format: 'jpeg', thumbnails: [] })
  t.same(await renderThumbnails(jpeg, [{ height: 10, source: false, renditions: [] }]), { format: 'jpeg', thumbnails: [] })
})

t.test('invalid heights, qualities, efforts and formats are a programming error (RangeError), not an undecodable image', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(30, 20, 14), 30, 20).jpeg().toBuffer()
  for (const height of [0, -5, 1.5, Number.NaN]) {
    const error = await rejection(renderThumbnails(jpeg, [...sourceOnly(100), { height, source: false, renditions: [] }]))
    t.type(error, RangeError, `height ${height}`)
  }
  const invalid: RenditionEncoding[] = [
    { format: 'webp', quality: 0, effort: 4 },
    { format: 'webp', quality: 101, effort: 4 },
    { format: 'avif', quality: 50.5, effort: 4 },
    { format: 'webp', quality: 80, effort: 7 },
    { format: 'avif', quality: 50, effort: 10 },
    { format: 'avif', quality: 50, effort: -1 },
    { format: 'gif' as 'webp', quality: 50, effort: 4 },
  ]
  for (const encoding of invalid) {
    const error = await rejection(renderThumbnails(jpeg, [{ height: 10, source: true, renditions: [encoding] }]))
    t.type(error, RangeError, `${JSON.stringify(encoding)}: ${(error as Error).message}`)
  }
})

// ---------------------------------------------------------------------------------------------
// Metadata.

t.test('output in every format carries no EXIF (incl. GPS), orientation, ICC or XMP metadata', async (t) => {
  const pixels = photoLikePixels(160, 120, 5)
  const withMetadata = (image: Sharp) =>
    image
      .withExif({
        IFD0: { Copyright: 'someone', Make: 'camera', Model: 'model' },
        IFD2: { DateTimeOriginal: '2020:01:01 10:00:00' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '52/1 31/1 0/1', GPSLongitudeRef: 'E', GPSLongitude: '13/1 24/1 0/1' },
      })
      .withMetadata({ orientation: 6 })
      .withIccProfile('p3')
      .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
  const sources = {
    jpeg: await withMetadata(rawRgb(pixels, 160, 120)).jpeg().toBuffer(),
    png: await withMetadata(rawRgb(pixels, 160, 120)).png().toBuffer(),
  }
  const gpsIfdPointer = Buffer.from([0x25, 0x88]) // tag 0x8825, little-endian as sharp writes it
  for (const [format, source] of Object.entries(sources)) {
    const sourceMetadata = await sharp(source).metadata()
    t.ok(
      sourceMetadata.exif?.includes(gpsIfdPointer) && sourceMetadata.icc && sourceMetadata.xmp && sourceMetadata.orientation === 6,
      `${format} source has EXIF with GPS, ICC, XMP and orientation`,
    )

    // 500 is above the original: re-encoded at its own size, which must not keep metadata either.
    const result = await renderThumbnails(source, [
      { height: 60, source: true, renditions: [WEBP, AVIF] },
      { height: 500, source: true, renditions: [WEBP, AVIF] },
    ])
    t.same(
      result.thumbnails.map((outcome) => [rendered(outcome).width, rendered(outcome).renderedHeight]),
      [
        [45, 60],
        [120, 160],
      ],
      `${format}: rotated by orientation 6`,
    )
    for (const outcome of result.thumbnails) {
      for (const file of rendered(outcome).files) {
        const name = `${format} source, height ${outcome.height}, ${file.format}`
        const metadata = await sharp(file.data).metadata()
        t.equal(metadata.exif, undefined, `${name}: no EXIF`)
        t.equal(metadata.orientation, undefined, `${name}: no orientation`)
        t.equal(metadata.icc, undefined, `${name}: no ICC profile`)
        t.equal(metadata.xmp, undefined, `${name}: no XMP`)
      }
    }
  }
})

// ---------------------------------------------------------------------------------------------
// Placeholder.

/**
 * The aspect ratio ThumbHash can store for an image: its encoder rounds each side to 1–7 steps
 * (1–5 when the image has transparency).
 */
function thumbHashAspect({ width, height, hasAlpha = false }: Displayed): number {
  const steps = hasAlpha ? 5 : 7
  const longer = Math.max(width, height)
  return Math.max(1, Math.round((steps * width) / longer)) / Math.max(1, Math.round((steps * height) / longer))
}

interface Displayed {
  width: number
  height: number
  hasAlpha?: boolean
}

async function checkPlaceholder(
  t: Test,
  placeholder: Buffer | undefined,
  displayed: Displayed,
  name: string,
): Promise<void> {
  if (placeholder === undefined) {
    t.fail(`${name}: no placeholder`)
    return
  }
  t.ok(placeholder.length < 40, `${name}: ${placeholder.length} bytes < 40`)
  const aspect = thumbHashToApproximateAspectRatio(placeholder)
  const actual = displayed.width / displayed.height
  // ThumbHash stores the aspect coarsely (4:1 comes back as 3.5, 1:3 as 2/7, 3:2 with alpha as
  // 5/3): up to 15% off. It must be the nearest the format stores, which is what its encoder
  // gets from the right width and height.
  t.equal(aspect, thumbHashAspect(displayed), `${name}: aspect ${aspect.toFixed(3)} is the nearest ThumbHash stores for ${actual.toFixed(3)}`)
  t.ok(Math.abs(aspect / actual - 1) <= 0.15, `${name}: aspect ${aspect.toFixed(3)} within 15% of ${actual.toFixed(3)}`)
  const decoded = thumbHashToRGBA(placeholder)
  t.ok(decoded.w >= 1 && decoded.w <= 32 && decoded.h >= 1 && decoded.h <= 32, `${name}: decodes to a small ${decoded.w}×${decoded.h} image`)
  t.equal(decoded.rgba.length, decoded.w * decoded.h * 4, `${name}: RGBA of that size`)
}

t.test('the placeholder is a small valid ThumbHash with the displayed aspect ratio: wide, square, tall and EXIF-rotated', async (t) => {
  const cases = [
    { name: 'wide 4:1', width: 800, height: 200, orientation: 1 },
    { name: 'square', width: 300, height: 300, orientation: 1 },
    { name: 'tall 1:3', width: 200, height: 600, orientation: 1 },
    // Stored 600×200 with orientation 6: displayed 200×600.
    { name: 'rotated to tall 1:3', width: 600, height: 200, orientation: 6 },
  ]
  for (const { name, width, height, orientation } of cases) {
    const jpeg = await rawRgb(photoLikePixels(width, height, 30), width, height).withMetadata({ orientation }).jpeg().toBuffer()
    const result = await renderThumbnails(jpeg, [{ height: 150, source: true, renditions: [WEBP] }], { placeholder: true })
    const displayed = orientation === 6 ? { width: height, height: width } : { width, height }
    t.equal(rendered(result.thumbnails[0]).width, thumbnailWidth(displayed, 150), `${name}: thumbnail rendered too`)
    await checkPlaceholder(t, result.placeholder, displayed, name)
  }
})

t.test('the placeholder of a PNG with alpha records the transparency', async (t) => {
  const png = await photoLikePngWithAlpha(300, 200, 31)
  const result = await renderThumbnails(png, sourceOnly(100), { placeholder: true })
  await checkPlaceholder(t, result.placeholder, { width: 300, height: 200, hasAlpha: true }, 'png with alpha')
  const { rgba } = thumbHashToRGBA(result.placeholder!)
  t.ok(rgba.some((value, i) => i % 4 === 3 && value < 128), 'some of the decoded placeholder is transparent')
})

t.test('the placeholder is made even when no thumbnail needs decoding: no requests, every height over the limits, or only tiny heights', async (t) => {
  const jpeg = await photoLikeJpeg(400, 100, 32)
  const displayed = { width: 400, height: 100 }
  const onlyPlaceholder = await renderThumbnails(jpeg, [], { placeholder: true })
  t.same(onlyPlaceholder.thumbnails, [])
  await checkPlaceholder(t, onlyPlaceholder.placeholder, displayed, 'no requests')

  const overLimits = await renderThumbnails(jpeg, sourceOnly(100), { placeholder: true, maxOutputPixels: 10 })
  t.match(overLimits.thumbnails, [{ height: 100, error: /more than 10 pixels/ }])
  await checkPlaceholder(t, overLimits.placeholder, displayed, 'every height over the limits')

  // A 1 px high thumbnail is 4×1: a placeholder from those pixels would have lost the aspect.
  const tiny = await renderThumbnails(jpeg, sourceOnly(1), { placeholder: true })
  t.same([rendered(tiny.thumbnails[0]).width, rendered(tiny.thumbnails[0]).renderedHeight], [4, 1])
  await checkPlaceholder(t, tiny.placeholder, displayed, 'only a 1 px high thumbnail')
  t.ok(tiny.placeholder!.equals(onlyPlaceholder.placeholder!), 'the same placeholder as decoding for it alone')
})

t.test('the placeholder of a greyscale image is grey', async (t) => {
  const grey = Buffer.alloc(120 * 90)
  for (let i = 0; i < grey.length; i++) grey[i] = clampByte(50 + ((i % 120) / 120) * 150)
  const jpeg = await sharp(grey, { raw: { width: 120, height: 90, channels: 1 } }).toColourspace('b-w').jpeg().toBuffer()
  const result = await renderThumbnails(jpeg, sourceOnly(90), { placeholder: true })
  await checkPlaceholder(t, result.placeholder, { width: 120, height: 90 }, 'greyscale')
  const { rgba } = thumbHashToRGBA(result.placeholder!)
  let maxChroma = 0
  for (let i = 0; i < rgba.length; i += 4) {
    maxChroma = Math.max(maxChroma, Math.max(rgba[i]!, rgba[i + 1]!, rgba[i + 2]!) - Math.min(rgba[i]!, rgba[i + 1]!, rgba[i + 2]!))
  }
  t.ok(maxChroma <= 8, `decoded placeholder is grey: largest channel spread ${maxChroma}`)
})

// ---------------------------------------------------------------------------------------------
// Undecodable inputs.

t.test('inputs that cannot be decoded throw UndecodableImageError', async (t) => {
  const jpeg = await largeJpeg()
  const png = await rawRgb(photoLikePixels(400, 300, 15), 400, 300).png().toBuffer()
  const corruptPng = Buffer.from(png)
  // Overwrite bytes in the middle of the compressed pixel data (the IDAT chunk).
  corruptPng.fill(0xa5, Math.floor(png.length / 2), Math.floor(png.length / 2) + 64)
  const random = seededRandom(16)
  const randomBytes = Buffer.from(Array.from({ length: 10_000 }, () => Math.floor(random() * 256)))

  const undecodable: Record<string, Buffer> = {
    'truncated JPEG': jpeg.subarray(0, Math.floor(jpeg.length / 2)),
    'truncated PNG': png.subarray(0, Math.floor(png.length / 2)),
    'corrupt PNG': corruptPng,
    'random bytes': randomBytes,
    'text': Buffer.from('this is not an image'),
    'empty buffer': Buffer.alloc(0),
  }
  for (const [name, input] of Object.entries(undecodable)) {
    const requests: Record<string, [ThumbnailRequest[], { placeholder?: boolean }]> = {
      thumbnails: [sourceOnly(200, 400), {}],
      'placeholder only': [[], { placeholder: true }],
    }
    for (const [what, [heights, options]] of Object.entries(requests)) {
      const error = await rejection(renderThumbnails(input, heights, options))
      t.type(error, UndecodableImageError, `${name}, ${what}`)
      t.equal((error as Error).name, 'UndecodableImageError', `${name}, ${what}: error name`)
      t.match((error as Error).message, /^cannot (read|decode) image: ./, `${name}, ${what}: ${(error as Error).message}`)
    }
  }
})

t.test('formats other than JPEG and PNG are rejected as undecodable', async (t) => {
  const webp = await rawRgb(photoLikePixels(60, 40, 17), 60, 40).webp().toBuffer()
  const error = await rejection(renderThumbnails(webp, sourceOnly(20)))
  t.type(error, UndecodableImageError)
  t.match((error as Error).message, /unsupported image format: webp/)
})

t.test('originals over maxInputPixels are rejected as undecodable', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(300, 200, 18), 300, 200).jpeg().toBuffer()
  const error = await rejection(renderThumbnails(jpeg, sourceOnly(50), { maxInputPixels: 300 * 200 - 1 }))
  t.type(error, UndecodableImageError)
  t.match((error as Error).message, /pixel limit/)
  t.ok((await renderThumbnails(jpeg, sourceOnly(50), { maxInputPixels: 300 * 200 })).thumbnails[0], 'exactly at the limit is fine')
})
