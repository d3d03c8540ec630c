import t from 'tap'
import { DEFAULT_MAX_HEADER_BYTES, ImageInspector, ImageRejectedError, probeBuffer, type ProbeLimits } from '../src/index.js'
import { generous, makeJpeg, makePng } from './fixtures.js'

// A stored object is checked from ranged reads (the gateway's direct uploads): its start, pushed
// into an ImageInspector, then finishWithTail with its last bytes and its size. These cases compare
// that with probing the whole file.
const TAIL = 64

function probeHeadAndTail(parts: { head: Buffer; tail: Buffer; size: number }, limits: ProbeLimits) {
  if (parts.size > limits.maxBytes) throw new ImageRejectedError('too_large', 'over the limit')
  const inspector = new ImageInspector(limits)
  inspector.push(parts.head.subarray(0, parts.size))
  return inspector.finishWithTail(parts.tail, parts.size)
}

function parts(file: Buffer) {
  return { head: file.subarray(0, DEFAULT_MAX_HEADER_BYTES), tail: file.subarray(Math.max(0, file.length - TAIL)), size: file.length }
}

t.test('head and tail give the same result as the whole file, for PNG and JPEG, small and over 256 KiB', async (t) => {
  const files = [await makePng(40, 30), await makePng(600, 400), await makeJpeg(40, 30), await makeJpeg(900, 700, { orientation: 6 })]
  t.ok(files.some((file) => file.length > DEFAULT_MAX_HEADER_BYTES), 'one file is larger than the head')
  for (const file of files) t.same(probeHeadAndTail(parts(file), generous), probeBuffer(file, generous))
})

t.test('a file cut off in its unread middle (no end marker at its end) is refused as invalid_image', async (t) => {
  const file = await makePng(600, 400)
  const cut = file.subarray(0, file.length - 5000)
  t.throws(() => probeHeadAndTail(parts(cut), generous), { code: 'invalid_image' })
})

t.test('bytes appended after the end marker, seen in the tail, are refused with how many', async (t) => {
  const file = Buffer.concat([await makeJpeg(900, 700), Buffer.from('appended')])
  t.throws(() => probeHeadAndTail(parts(file), generous), { code: 'invalid_image', message: /8 bytes after/ })
})

t.test('finishWithTail refuses a size over maxBytes as too_large', async (t) => {
  const limits: ProbeLimits = { maxBytes: 100_000, maxPixels: 1e8 }
  const png = await makePng(40, 30)
  const inspector = new ImageInspector(limits)
  inspector.push(png.subarray(0, 1000))
  t.throws(() => inspector.finishWithTail(png.subarray(png.length - TAIL), 100_001), { code: 'too_large' })
})

t.test('too many pixels, a file that is not an image, and an empty file are refused with their codes', async (t) => {
  const big = await makePng(600, 400)
  t.throws(() => probeHeadAndTail(parts(big), { maxBytes: 1e8, maxPixels: 1000 }), { code: 'too_many_pixels' })
  const text = Buffer.from('<html>'.repeat(100_000))
  t.throws(() => probeHeadAndTail(parts(text), generous), { code: 'unsupported_format' })
  t.throws(() => probeHeadAndTail({ head: Buffer.alloc(0), tail: Buffer.alloc(0), size: 0 }, generous), { code: 'empty' })
})

t.test('a JPEG whose frame header is not within the head is refused as invalid_image', async (t) => {
  // an APP segment larger than the head before the frame header
  const jpeg = await makeJpeg(40, 30)
  const padding = Buffer.alloc(DEFAULT_MAX_HEADER_BYTES)
  const segments: Buffer[] = []
  for (let offset = 0; offset < padding.length; offset += 65_000) {
    const payload = padding.subarray(offset, offset + 65_000)
    segments.push(Buffer.concat([Buffer.from([0xff, 0xe9, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]), payload]))
  }
  const file = Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)])
  t.throws(() => probeHeadAndTail(parts(file), generous), { code: 'invalid_image' })
})
