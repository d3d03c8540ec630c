import t, { type Test } from 'tap'
import { ImageRejectedError, probeBuffer, type ProbeLimits } from '../src/index.js'
import {
  exifSegment,
  findStartOfFrame,
  generous,
  insertAfterSoi,
  makeJpeg,
  oneByteChunks,
  patchFrameDimensions,
  probeChunks,
  randomChunks,
  segment,
} from './fixtures.js'

const APP2 = 0xe2
const APP13 = 0xed
const COM = 0xfe
const DHT = 0xc4

function rejection(buffer: Buffer, limits: ProbeLimits = generous): ImageRejectedError {
  try {
    probeBuffer(buffer, limits)
  } catch (error) {
    if (error instanceof ImageRejectedError) return error
    throw error
  }
  throw new Error('expected the image to be rejected')
}

/** Probes whole, in random chunks under several seeds, and byte by byte; all must agree. */
async function probeEveryWay(t: Test, jpeg: Buffer, expected: object): Promise<void> {
  t.match(probeBuffer(jpeg, generous), expected, 'whole buffer')
  for (const seed of [1, 2, 3]) {
    const { result, output } = await probeChunks(randomChunks(jpeg, seed, 300), generous)
    t.match(result, expected, `random chunks, seed ${seed}`)
    t.ok(output.equals(jpeg), 'passes the bytes through unchanged')
  }
  t.match((await probeChunks(oneByteChunks(jpeg))).result, expected, 'one-byte chunks')
}

const sizes: Array<[number, number]> = [
  [1, 1],
  [17, 9],
  [640, 480],
  [1200, 900],
]

for (const [width, height] of sizes) {
  t.test(`reads a ${width}×${height} baseline JPEG in any chunking`, async (t) => {
    const jpeg = await makeJpeg(width, height)
    await probeEveryWay(t, jpeg, {
      format: 'jpeg',
      width,
      height,
      orientation: 1,
      displayWidth: width,
      displayHeight: height,
      bytes: jpeg.length,
      components: 3,
      progressive: false,
    })
  })
}

t.test('reads a progressive JPEG', async (t) => {
  const jpeg = await makeJpeg(300, 200, { progressive: true })
  t.equal(jpeg[findStartOfFrame(jpeg) + 1], 0xc2, 'sharp wrote SOF2')
  await probeEveryWay(t, jpeg, { width: 300, height: 200, progressive: true })
})

t.test('reads a greyscale JPEG', async (t) => {
  t.match(probeBuffer(await makeJpeg(30, 20, { greyscale: true }), generous), { components: 1 })
})

t.test('reads EXIF orientation 6 and swaps the display size', async (t) => {
  const jpeg = await makeJpeg(400, 300, { orientation: 6 })
  await probeEveryWay(t, jpeg, { width: 400, height: 300, orientation: 6, displayWidth: 300, displayHeight: 400 })
})

t.test('reads every EXIF orientation sharp writes', async (t) => {
  for (let orientation = 1; orientation <= 8; orientation++) {
    const result = probeBuffer(await makeJpeg(40, 30, { orientation }), generous)
    const swapped = orientation >= 5
    t.same(
      [result.orientation, result.displayWidth, result.displayHeight],
      [orientation, swapped ? 30 : 40, swapped ? 40 : 30],
      `orientation ${orientation}`,
    )
  }
})

t.test('reads EXIF in both byte orders and as a LONG', async (t) => {
  const jpeg = await makeJpeg(40, 30)
  for (const byteOrder of ['II', 'MM'] as const) {
    await probeEveryWay(t, insertAfterSoi(jpeg, exifSegment(8, byteOrder)), { orientation: 8, displayWidth: 30 })
    t.equal(probeBuffer(insertAfterSoi(jpeg, exifSegment(3, byteOrder, 4)), generous).orientation, 3)
  }
})

/** Renames the orientation entry of an `exifSegment` (segment 4 + "Exif\0\0" 6 + IFD entry 22). */
function retagged(exif: Buffer, tag: number): Buffer {
  const copy = Buffer.from(exif)
  copy.writeUInt16BE(tag, 32)
  return copy
}

t.test('defaults to orientation 1 when EXIF is unusable', async (t) => {
  const jpeg = await makeJpeg(40, 30)
  const exif = exifSegment(6, 'MM')
  const cases: Record<string, Buffer> = {
    'no orientation tag': retagged(exifSegment(6, 'MM'), 0x0131),
    'orientation 9': exifSegment(9, 'II'),
    'orientation as ASCII': exifSegment(6, 'II', 2),
    'unknown byte order': Buffer.concat([exif.subarray(0, 10), Buffer.from('XX'), exif.subarray(12)]),
    'not TIFF magic 42': Buffer.concat([exif.subarray(0, 12), Buffer.from([0, 43]), exif.subarray(14)]),
    'IFD offset past the end': Buffer.concat([exif.subarray(0, 14), Buffer.from([0, 0, 1, 0]), exif.subarray(18)]),
    'entries cut short': segment(0xe1, exif.subarray(4, 30)),
    'too short for TIFF': segment(0xe1, Buffer.from('Exif\0\0MM\0', 'latin1')),
    'XMP, not EXIF': segment(0xe1, Buffer.from('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>', 'latin1')),
    'empty APP1': segment(0xe1, Buffer.alloc(0)),
  }
  for (const [name, app1] of Object.entries(cases)) {
    t.equal(probeBuffer(insertAfterSoi(jpeg, app1), generous).orientation, 1, name)
  }
})

t.test('takes the orientation from the first EXIF segment, after XMP', async (t) => {
  const xmp = segment(0xe1, Buffer.from('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>', 'latin1'))
  const jpeg = insertAfterSoi(await makeJpeg(40, 30), xmp, exifSegment(5, 'MM'), exifSegment(2, 'II'))
  t.equal(probeBuffer(jpeg, generous).orientation, 5)
})

t.test('skips large APP segments, fill bytes and tables before the frame header', async (t) => {
  const big = (code: number, size: number, fill: number) => segment(code, Buffer.alloc(size, fill))
  const jpeg = insertAfterSoi(
    await makeJpeg(320, 240, { orientation: 6 }),
    big(APP2, 65533, 0xff), // payload of 0xFF bytes must not be taken for fill or markers
    big(APP13, 65533, 0xd9),
    big(COM, 40000, 0x41),
    segment(DHT, Buffer.alloc(0)), // a length-2 segment with no payload at all
    Buffer.from([0xff, 0xff, 0xff]), // fill bytes before the next marker
    exifSegment(7, 'MM'),
    Buffer.from([0xff, 0xd0]), // a standalone marker, no length
  )
  t.ok(jpeg.length > 170_000)
  await probeEveryWay(t, jpeg, { width: 320, height: 240, orientation: 7, displayWidth: 240, displayHeight: 320 })
})

t.test('refuses more than maxHeaderBytes of metadata before the frame header', async (t) => {
  const app2 = segment(APP2, Buffer.alloc(65533))
  const jpeg = insertAfterSoi(await makeJpeg(20, 20), app2, app2, app2, app2, app2)
  const error = rejection(jpeg)
  t.equal(error.code, 'invalid_image')
  t.match(error.message, /256 KiB of metadata/)
  // The fourth segment would end past 256 KiB: rejected once its length is read, before its payload.
  const throughFourthLength = jpeg.subarray(0, 2 + 3 * app2.length + 4)
  t.match(rejection(throughFourthLength), { code: 'invalid_image', message: /256 KiB of metadata/ })
  t.equal(probeBuffer(jpeg, { ...generous, maxHeaderBytes: 512 * 1024 }).width, 20)
})

t.test('applies maxHeaderBytes the same way in any chunking', async (t) => {
  const jpeg = await makeJpeg(20, 20)
  const headerEnd = findStartOfFrame(jpeg) + 2 + jpeg.readUInt16BE(findStartOfFrame(jpeg) + 2)
  t.equal(probeBuffer(jpeg, { ...generous, maxHeaderBytes: headerEnd }).width, 20)
  for (const chunks of [[jpeg], oneByteChunks(jpeg), randomChunks(jpeg, 7)]) {
    await t.rejects(probeChunks(chunks, { ...generous, maxHeaderBytes: headerEnd - 1 }), { code: 'invalid_image' })
  }
})

t.test('rejects a truncated JPEG', async (t) => {
  const jpeg = await makeJpeg(64, 48)
  const headerEnd = findStartOfFrame(jpeg) + 10
  for (const length of [2, 3, 4, 20, headerEnd, headerEnd + 50, jpeg.length - 2, jpeg.length - 1]) {
    const error = rejection(jpeg.subarray(0, length))
    t.equal(error.code, length < 3 ? 'unsupported_format' : 'invalid_image', `cut to ${length} bytes`)
  }
  t.match(rejection(jpeg.subarray(0, 100)).message, 'the file is truncated or corrupt')
})

t.test('rejects bytes after the end-of-image marker', async (t) => {
  const jpeg = await makeJpeg(20, 20)
  t.equal(rejection(Buffer.concat([jpeg, Buffer.from([0, 0])])).code, 'invalid_image')
})

t.test('rejects a JPEG without a frame header', async (t) => {
  const app0 = segment(0xe0, Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1'))
  const cases: Record<string, Buffer> = {
    'image data first': Buffer.concat([Buffer.from([0xff, 0xd8]), app0, Buffer.from([0xff, 0xda, 0, 2, 0xff, 0xd9])]),
    'ends at once': Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
    'starts twice': Buffer.from([0xff, 0xd8, 0xff, 0xd8, 0xff, 0xd9]),
    'stuffed zero': Buffer.from([0xff, 0xd8, 0xff, 0x00, 0xff, 0xd9]),
    'no marker prefix': Buffer.concat([Buffer.from([0xff, 0xd8]), app0, Buffer.from([0x12, 0x34])]),
    'length below 2': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01, 0xff, 0xd9]),
  }
  for (const [name, bytes] of Object.entries(cases)) {
    t.equal(rejection(bytes).code, 'invalid_image', name)
  }
})

t.test('rejects a broken frame header', async (t) => {
  const jpeg = await makeJpeg(20, 20)
  t.equal(rejection(patchFrameDimensions(jpeg, 0, 20)).code, 'invalid_image', 'zero width')
  t.equal(rejection(patchFrameDimensions(jpeg, 20, 0)).code, 'invalid_image', 'zero height (DNL)')
  const tooShort = segment(0xc0, Buffer.from([8, 0, 20, 0]))
  t.equal(rejection(insertAfterSoi(jpeg, tooShort)).code, 'invalid_image', 'shorter than 6 bytes')
  const noComponents = segment(0xc0, Buffer.from([8, 0, 20, 0, 20, 0]))
  t.equal(rejection(insertAfterSoi(jpeg, noComponents)).code, 'invalid_image', 'no components')
  const missingComponents = segment(0xc0, Buffer.from([8, 0, 20, 0, 20, 3, 1, 0x11, 0]))
  t.equal(rejection(insertAfterSoi(jpeg, missingComponents)).code, 'invalid_image', 'fewer components than declared')
})

t.test('rejects a frame header claiming too many pixels', async (t) => {
  const jpeg = patchFrameDimensions(await makeJpeg(20, 20), 65535, 65535)
  const error = rejection(jpeg, { maxBytes: 25 * 1024 * 1024, maxPixels: 50_000_000 })
  t.equal(error.code, 'too_many_pixels')
  t.equal(error.message, 'image is 65535×65535 = 4294.84 MP, over the 50 MP limit')
})

t.test('rejects a near-miss signature', async (t) => {
  t.equal(rejection(Buffer.from([0xff, 0xd9, 0xff])).code, 'unsupported_format')
  t.equal(rejection(Buffer.from([0xff, 0xd8, 0x00, 0x10])).code, 'unsupported_format')
})
