import t from 'tap'
import { ImageInspector, ImageRejectedError, probeBuffer } from '../src/index.js'
import { generous, makeJpeg, makePng, oneByteChunks, randomChunks } from './fixtures.js'

function rejectionOf(push: (inspector: ImageInspector) => void): ImageRejectedError {
  const inspector = new ImageInspector(generous)
  try {
    push(inspector)
    inspector.finish()
  } catch (error) {
    if (error instanceof ImageRejectedError) return error
    throw error
  }
  throw new Error('the file was accepted')
}

t.test('data after the end marker is told apart from a cut-off file, in one piece or in any chunks', async (t) => {
  const png = await makePng(24, 16)
  const jpeg = await makeJpeg(24, 16)
  const cases: Array<[string, Buffer, string]> = [
    ['PNG + 5 bytes', Buffer.concat([png, Buffer.from('hello')]), "the file has data after its end marker: 5 bytes after the PNG's IEND chunk, where the image must end"],
    ['JPEG + 1 byte', Buffer.concat([jpeg, Buffer.from([0])]), "the file has data after its end marker: 1 byte after the JPEG's end-of-image (EOI) marker, where the image must end"],
    ['JPEG + 300 bytes', Buffer.concat([jpeg, Buffer.alloc(300, 7)]), "the file has data after its end marker: 300 bytes after the JPEG's end-of-image (EOI) marker, where the image must end"],
    ['PNG cut short', png.subarray(0, png.length - 1), 'the file is truncated or corrupt (the PNG does not end with an IEND chunk)'],
    ['JPEG cut short', jpeg.subarray(0, jpeg.length - 1), 'the file is truncated or corrupt (the JPEG does not end with an end-of-image (EOI) marker)'],
  ]
  for (const [name, bytes, message] of cases) {
    for (const [how, chunks] of [['whole', [bytes]], ['random chunks', randomChunks(bytes, 7, 5)], ['one byte at a time', oneByteChunks(bytes)]] as const) {
      const error = rejectionOf((inspector) => chunks.forEach((chunk) => inspector.push(chunk)))
      t.equal(error.code, 'invalid_image', `${name}, ${how}`)
      t.equal(error.message, message, `${name}, ${how}`)
    }
  }
})

t.test('a whole file still passes', async (t) => {
  t.equal(probeBuffer(await makePng(24, 16), generous).format, 'png')
  t.equal(probeBuffer(await makeJpeg(24, 16), generous).format, 'jpeg')
})
