import t from 'tap'
import { ImageRejectedError, probeBuffer } from '../src/index.js'
import { generous, makePng, oneByteChunks, patchIhdr, probeChunks, randomChunks } from './fixtures.js'

const sizes: Array<[number, number]> = [
  [1, 1],
  [17, 9],
  [640, 480],
  [1500, 1000],
]

function rejection(buffer: Buffer, limits = generous): ImageRejectedError {
  try {
    probeBuffer(buffer, limits)
  } catch (error) {
    if (error instanceof ImageRejectedError) return error
    throw error
  }
  throw new Error('expected the image to be rejected')
}

for (const [width, height] of sizes) {
  t.test(`reads a ${width}×${height} PNG in any chunking`, async (t) => {
    const png = await makePng(width, height)
    const expected = {
      format: 'png',
      width,
      height,
      orientation: 1,
      displayWidth: width,
      displayHeight: height,
      bytes: png.length,
      bitDepth: 8,
      colorType: 2,
    }
    t.same(probeBuffer(png, generous), expected, 'whole buffer')
    for (const seed of [1, 2, 3]) {
      const { result, output } = await probeChunks(randomChunks(png, seed), generous)
      t.same(result, expected, `random chunks, seed ${seed}`)
      t.ok(output.equals(png), 'passes the bytes through unchanged')
    }
    if (png.length < 200_000) t.same((await probeChunks(oneByteChunks(png))).result, expected, 'one-byte chunks')
  })
}

t.test('reports colour type and bit depth', async (t) => {
  t.match(probeBuffer(await makePng(8, 8, { alpha: true }), generous), { colorType: 6, bitDepth: 8 })
  t.match(probeBuffer(await makePng(8, 8, { greyscale: true }), generous), { colorType: 0, bitDepth: 8 })
  t.match(probeBuffer(await makePng(8, 8, { palette: true }), generous), { colorType: 3 })
  t.match(probeBuffer(await makePng(33, 20, { interlaced: true }), generous), { width: 33, height: 20 })
})

t.test('rejects a truncated PNG', async (t) => {
  const png = await makePng(64, 48)
  for (const length of [4, 8, 20, 32, 33, 100, png.length - 12, png.length - 1]) {
    const error = rejection(png.subarray(0, length))
    t.equal(error.code, length < 8 ? 'unsupported_format' : 'invalid_image', `cut to ${length} bytes`)
    if (length >= 8) t.match(error.message, /truncated or corrupt/)
  }
})

t.test('rejects bytes after IEND', async (t) => {
  const png = await makePng(10, 10)
  t.equal(rejection(Buffer.concat([png, Buffer.from('junk')])).code, 'invalid_image')
})

t.test('rejects a wrong IHDR checksum', async (t) => {
  const png = await makePng(10, 10)
  const error = rejection(patchIhdr(png, { width: 11 }, { fixCrc: false }))
  t.equal(error.code, 'invalid_image')
  t.match(error.message, /checksum/)
})

t.test('rejects a zero width or height', async (t) => {
  const png = await makePng(10, 10)
  t.equal(rejection(patchIhdr(png, { width: 0 })).code, 'invalid_image')
  t.equal(rejection(patchIhdr(png, { height: 0 })).code, 'invalid_image')
  t.equal(rejection(patchIhdr(png, { width: 0x80000000 })).code, 'invalid_image')
})

t.test('rejects an impossible colour type and bit depth', async (t) => {
  const png = await makePng(10, 10)
  t.equal(rejection(patchIhdr(png, { bitDepth: 4 })).code, 'invalid_image', 'RGB at 4 bits')
  t.equal(rejection(patchIhdr(png, { colorType: 5 })).code, 'invalid_image', 'no colour type 5')
})

t.test('rejects a PNG whose first chunk is not IHDR', async (t) => {
  const error = rejection(patchIhdr(await makePng(10, 10), { type: 'tEXt' }))
  t.equal(error.code, 'invalid_image')
  t.match(error.message, /IHDR/)
})

t.test('rejects an unknown compression method', async (t) => {
  const png = Buffer.from(await makePng(10, 10))
  png[26] = 1
  t.equal(rejection(patchIhdr(png, {})).code, 'invalid_image')
})

t.test('rejects a header claiming too many pixels', async (t) => {
  const png = patchIhdr(await makePng(100, 100), { width: 30000, height: 30000 })
  const error = rejection(png, { maxBytes: 25 * 1024 * 1024, maxPixels: 50_000_000 })
  t.equal(error.code, 'too_many_pixels')
  t.equal(error.message, 'image is 30000×30000 = 900 MP, over the 50 MP limit')
})

t.test('accepts exactly the pixel limit', async (t) => {
  const png = await makePng(100, 50)
  t.equal(probeBuffer(png, { maxBytes: 1e6, maxPixels: 5000 }).width, 100)
  t.equal(rejection(png, { maxBytes: 1e6, maxPixels: 4999 }).message, 'image is 100×50 = 5,000 pixels, over the 4,999 pixels limit')
})

t.test('rejects a near-miss signature as soon as it diverges', async (t) => {
  t.equal(rejection(Buffer.from('\x89PNX', 'latin1')).code, 'unsupported_format')
  t.equal(rejection(Buffer.from('\x89PNG\r\n\x1a\x0b and the rest', 'latin1')).code, 'unsupported_format')
})
