import t from 'tap'
import sharp, { type OutputInfo, type Sharp } from 'sharp'
import { heightToFitInside, thumbnailWidth } from '@imageapi/media'
import {
  renderThumbnails,
  UndecodableImageError,
  type RenderedThumbnail,
  type ThumbnailOutcome,
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

function rawRgb(pixels: Buffer, width: number, height: number): Sharp {
  return sharp(pixels, { raw: { width, height, channels: 3 } })
}

let cachedLargeJpeg: Promise<Buffer> | undefined
/** A 12 MP (4000×3000) photo-like JPEG, built once for the tests that share it. */
function largeJpeg(): Promise<Buffer> {
  return (cachedLargeJpeg ??= rawRgb(photoLikePixels(4000, 3000), 4000, 3000).jpeg({ quality: 90 }).toBuffer())
}

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

/** Narrows an outcome to a rendered thumbnail; throwing fails the calling test. */
function rendered(outcome: ThumbnailOutcome | undefined): RenderedThumbnail {
  if (outcome === undefined || !('data' in outcome)) {
    throw new Error(`expected a rendered thumbnail, got ${JSON.stringify(outcome)}`)
  }
  return outcome
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected the promise to reject'),
    (error: unknown) => error,
  )
}

// ---------------------------------------------------------------------------------------------

t.test('a 4000×3000 JPEG gives JPEG thumbnails of the requested heights, aspect kept', async (t) => {
  const result = await renderThumbnails(await largeJpeg(), [200, 400])
  t.equal(result.format, 'jpeg')
  t.same(
    result.thumbnails.map((thumbnail) => ({ height: thumbnail.height, width: 'width' in thumbnail && thumbnail.width })),
    [
      { height: 200, width: 267 },
      { height: 400, width: 533 },
    ],
  )
  for (const thumbnail of result.thumbnails) {
    const { data, width, height } = rendered(thumbnail)
    const metadata = await sharp(data).metadata()
    t.match(metadata, { format: 'jpeg', width, height, space: 'srgb', channels: 3, chromaSubsampling: '4:2:0' })
  }
})

t.test('the compat box height renders the largest width the box holds: 800×600 in 77 × 123 is a 77×58 file', async (t) => {
  const image = { width: 800, height: 600 }
  const height = heightToFitInside(image, { width: 77, height: 123 })!
  const original = await rawRgb(photoLikePixels(800, 600), 800, 600).jpeg({ quality: 90 }).toBuffer()
  const thumbnail = rendered((await renderThumbnails(original, [height])).thumbnails[0])
  const meta = await sharp(thumbnail.data).metadata()
  t.same([thumbnail.width, thumbnail.height], [77, 58])
  t.same([meta.width, meta.height], [77, 58], 'the encoded file has those dimensions')
  t.equal(thumbnail.width, thumbnailWidth(image, height), 'the width the media model announces')
})

t.test('output looks like rendering each height from the original separately', async (t) => {
  const original = await largeJpeg()
  const result = await renderThumbnails(original, [200, 400])
  for (const thumbnail of result.thumbnails) {
    const { data, width, height } = rendered(thumbnail)
    const reference = await sharp(original)
      .autoOrient()
      .resize(width, height, { fit: 'fill' })
      .jpeg({ quality: 80 })
      .toBuffer()
    const [ours, theirs] = await Promise.all([decodeRaw(data), decodeRaw(reference)])
    const difference = meanAbsoluteDifference(ours.data, theirs.data)
    t.ok(difference < 3, `height ${height}: mean absolute pixel difference ${difference.toFixed(2)} < 3`)
  }
})

t.test('a PNG with alpha stays a PNG with its transparency', async (t) => {
  const width = 300
  const height = 200
  const rgb = photoLikePixels(width, height, 2)
  const rgba = Buffer.alloc(width * height * 4)
  for (let i = 0; i < width * height; i++) {
    rgb.copy(rgba, i * 4, i * 3, i * 3 + 3)
    // Left third fully transparent, right third opaque, a ramp in between.
    const x = i % width
    rgba[i * 4 + 3] = x < 100 ? 0 : x >= 200 ? 255 : clampByte(((x - 100) / 100) * 255)
  }
  const png = await sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer()

  const result = await renderThumbnails(png, [100, 50])
  t.equal(result.format, 'png')
  t.same(
    result.thumbnails.map((thumbnail) => thumbnail.height),
    [50, 100],
  )
  const thumbnail = rendered(result.thumbnails[1])
  t.match(await sharp(thumbnail.data).metadata(), { format: 'png', width: 150, height: 100, hasAlpha: true, channels: 4 })
  const raw = await decodeRaw(thumbnail.data)
  t.equal(pixelAt(raw, 10, 50)[3], 0, 'transparent region stays transparent')
  t.equal(pixelAt(raw, 140, 50)[3], 255, 'opaque region stays opaque')
})

t.test('an opaque PNG stays an opaque RGB PNG', async (t) => {
  const png = await rawRgb(photoLikePixels(120, 80, 3), 120, 80).png().toBuffer()
  const result = await renderThumbnails(png, [40])
  const thumbnail = rendered(result.thumbnails[0])
  t.match(await sharp(thumbnail.data).metadata(), { format: 'png', width: 60, height: 40, hasAlpha: false, channels: 3 })
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

      const result = await renderThumbnails(jpeg, [80])
      const thumbnail = rendered(result.thumbnails[0])
      t.same([thumbnail.width, thumbnail.height], [120, 80], 'dimensions are the displayed ones')
      const raw = await decodeRaw(thumbnail.data)
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

t.test('output carries no EXIF, orientation or ICC metadata', async (t) => {
  const pixels = photoLikePixels(160, 120, 5)
  const withMetadata = (image: Sharp) =>
    image
      .withExif({ IFD0: { Copyright: 'someone', Make: 'camera' } })
      .withMetadata({ orientation: 6 })
      .withIccProfile('p3')
  const sources = {
    jpeg: await withMetadata(rawRgb(pixels, 160, 120)).jpeg().toBuffer(),
    png: await withMetadata(rawRgb(pixels, 160, 120)).png().toBuffer(),
  }
  for (const [format, source] of Object.entries(sources)) {
    const sourceMetadata = await sharp(source).metadata()
    t.ok(sourceMetadata.exif && sourceMetadata.icc && sourceMetadata.orientation === 6, `${format} source has metadata`)

    const result = await renderThumbnails(source, [60])
    const thumbnail = rendered(result.thumbnails[0])
    t.same([thumbnail.width, thumbnail.height], [45, 60], `${format}: rotated by orientation 6`)
    const metadata = await sharp(thumbnail.data).metadata()
    t.equal(metadata.format, format)
    t.equal(metadata.exif, undefined, `${format}: no EXIF`)
    t.equal(metadata.orientation, undefined, `${format}: no orientation`)
    t.equal(metadata.icc, undefined, `${format}: no ICC profile`)
    t.equal(metadata.xmp, undefined, `${format}: no XMP`)
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

  const result = await renderThumbnails(cmyk, [75])
  t.equal(result.format, 'jpeg')
  const thumbnail = rendered(result.thumbnails[0])
  t.match(await sharp(thumbnail.data).metadata(), { format: 'jpeg', space: 'srgb', channels: 3, width: 100, height: 75 })
  const [r, g, b] = (await sharp(thumbnail.data).stats()).channels.map((channel) => channel.mean)
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

  const result = await renderThumbnails(png16, [50])
  const thumbnail = rendered(result.thumbnails[0])
  t.match(await sharp(thumbnail.data).metadata(), { format: 'png', depth: 'uchar', bitsPerSample: 8, width: 100, height: 50 })
  const raw = await decodeRaw(thumbnail.data)
  const near = (actual: number[], expected: number[]) => actual.every((value, i) => Math.abs(value - expected[i]!) <= 3)
  t.ok(near(pixelAt(raw, 20, 25), [233, 156, 39]), `left is light orange: ${pixelAt(raw, 20, 25)}`)
  t.ok(near(pixelAt(raw, 80, 25), [20, 39, 195]), `right is dark blue: ${pixelAt(raw, 80, 25)}`)
})

t.test('a greyscale PNG with alpha stays greyscale with alpha', async (t) => {
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

  const result = await renderThumbnails(png, [60])
  const thumbnail = rendered(result.thumbnails[0])
  t.match(await sharp(thumbnail.data).metadata(), { format: 'png', width: 80, height: 60, hasAlpha: true, space: 'b-w', channels: 2 })
  // Decoding for inspection expands grey+alpha to RGBA; alpha is the last channel either way.
  const raw = await decodeRaw(thumbnail.data)
  t.equal(pixelAt(raw, 40, 10).at(-1), 0, 'top half transparent')
  t.equal(pixelAt(raw, 40, 50).at(-1), 255, 'bottom half opaque')
})

t.test('a greyscale JPEG stays a greyscale JPEG', async (t) => {
  const grey = Buffer.alloc(120 * 90)
  const random = seededRandom(8)
  for (let i = 0; i < grey.length; i++) grey[i] = clampByte(100 + (random() - 0.5) * 40)
  const jpeg = await sharp(grey, { raw: { width: 120, height: 90, channels: 1 } }).toColourspace('b-w').jpeg().toBuffer()
  t.match(await sharp(jpeg).metadata(), { space: 'b-w', channels: 1 }, 'source is greyscale')

  const thumbnail = rendered((await renderThumbnails(jpeg, [30])).thumbnails[0])
  t.match(await sharp(thumbnail.data).metadata(), { format: 'jpeg', width: 40, height: 30, space: 'b-w', channels: 1 })
})

t.test('heights are deduplicated and returned in ascending order', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(300, 200, 9), 300, 200).jpeg().toBuffer()
  const result = await renderThumbnails(jpeg, [100, 20, 100, 50, 20])
  t.same(
    result.thumbnails.map((thumbnail) => [thumbnail.height, 'width' in thumbnail && thumbnail.width]),
    [
      [20, 30],
      [50, 75],
      [100, 150],
    ],
  )
})

t.test('heights above the original enlarge it', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(100, 50, 10), 100, 50).jpeg().toBuffer()
  const result = await renderThumbnails(jpeg, [25, 200])
  t.same(
    result.thumbnails.map((thumbnail) => [thumbnail.height, 'width' in thumbnail && thumbnail.width]),
    [
      [25, 50],
      [200, 400],
    ],
  )
  t.match(await sharp(rendered(result.thumbnails[1]).data).metadata(), { width: 400, height: 200 })
})

t.test('an extreme aspect ratio fails only the variants that would be too wide', async (t) => {
  const strip = await rawRgb(photoLikePixels(20000, 10, 11), 20000, 10).jpeg().toBuffer()
  const result = await renderThumbnails(strip, [400, 8])
  t.equal(result.thumbnails.length, 2)
  const [small, large] = result.thumbnails
  const smallThumbnail = rendered(small)
  t.same([smallThumbnail.width, smallThumbnail.height], [16000, 8])
  t.match(await sharp(smallThumbnail.data).metadata(), { format: 'jpeg', width: 16000, height: 8 })
  t.match(large, { height: 400, error: /800000.*wider than 16383/ })
  t.notOk(large && 'data' in large, 'no data for the failed variant')
})

t.test('maxOutputPixels fails only the variants above it', async (t) => {
  const result = await renderThumbnails(await largeJpeg(), [200, 400], { maxOutputPixels: 100_000 })
  t.match(result.thumbnails[0], { height: 200, width: 267 })
  t.match(result.thumbnails[1], { height: 400, error: /533×400.*more than 100000 pixels/ })
})

t.test('when no variant fits, every height gets an error and nothing throws', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(300, 200, 12), 300, 200).jpeg().toBuffer()
  const result = await renderThumbnails(jpeg, [100, 200], { maxOutputPixels: 100 })
  t.equal(result.format, 'jpeg')
  t.match(result.thumbnails, [
    { height: 100, error: /more than 100 pixels/ },
    { height: 200, error: /more than 100 pixels/ },
  ])
})

t.test('an empty list of heights renders nothing', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(30, 20, 13), 30, 20).jpeg().toBuffer()
  t.same(await renderThumbnails(jpeg, []), { format: 'jpeg', thumbnails: [] })
})

t.test('invalid heights are a programming error, not an undecodable image', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(30, 20, 14), 30, 20).jpeg().toBuffer()
  for (const height of [0, -5, 1.5, Number.NaN]) {
    const error = await rejection(renderThumbnails(jpeg, [100, height]))
    t.type(error, RangeError, `height ${height}`)
  }
})

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
    const error = await rejection(renderThumbnails(input, [200, 400]))
    t.type(error, UndecodableImageError, name)
    t.equal((error as Error).name, 'UndecodableImageError', `${name}: error name`)
    t.match((error as Error).message, /^cannot (read|decode) image: ./, `${name}: ${(error as Error).message}`)
  }
})

t.test('formats other than JPEG and PNG are rejected as undecodable', async (t) => {
  const webp = await rawRgb(photoLikePixels(60, 40, 17), 60, 40).webp().toBuffer()
  const error = await rejection(renderThumbnails(webp, [20]))
  t.type(error, UndecodableImageError)
  t.match((error as Error).message, /unsupported image format: webp/)
})

t.test('originals over maxInputPixels are rejected as undecodable', async (t) => {
  const jpeg = await rawRgb(photoLikePixels(300, 200, 18), 300, 200).jpeg().toBuffer()
  const error = await rejection(renderThumbnails(jpeg, [50], { maxInputPixels: 300 * 200 - 1 }))
  t.type(error, UndecodableImageError)
  t.match((error as Error).message, /pixel limit/)
  t.ok((await renderThumbnails(jpeg, [50], { maxInputPixels: 300 * 200 })).thumbnails[0], 'exactly at the limit is fine')
})
