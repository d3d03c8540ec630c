import { PassThrough, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { ImageInspector, ImageProbe, ImageRejectedError, probeBuffer, type ProbeLimits } from '../src/index.js'
import { generous, makeJpeg, makePng, patchIhdr, probeChunks } from './fixtures.js'

const MiB = 1024 * 1024
const defaults: ProbeLimits = { maxBytes: 25 * MiB, maxPixels: 50_000_000 }

/** A source that yields `head`, then up to `fillerChunks` 64 KiB chunks, counting how many it was asked for. */
function countingSource(head: Buffer, fillerChunks: number): { stream: Readable; pulled: () => number } {
  let pulled = 0
  const filler = Buffer.alloc(64 * 1024, 0x55)
  function* chunks() {
    pulled++
    yield head
    for (let i = 0; i < fillerChunks; i++) {
      pulled++
      yield filler
    }
  }
  return { stream: Readable.from(chunks()), pulled: () => pulled }
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() })
}

t.test('passes bytes through and exposes the result', async (t) => {
  const png = await makePng(120, 80)
  const probe = new ImageProbe(defaults)
  const received: Buffer[] = []
  t.equal(probe.result, undefined)
  await pipeline(
    Readable.from([png.subarray(0, 10), png.subarray(10)]),
    probe,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk)
        callback()
      },
    }),
  )
  t.ok(Buffer.concat(received).equals(png))
  t.match(probe.result, { format: 'png', width: 120, height: 80, bytes: png.length })
  t.equal(probe.bytes, png.length)
  t.same(await probe.done, probe.result)
  t.match(probe.header, { format: 'png', width: 120 })
})

t.test('knows the header before the end of the file', async (t) => {
  const jpeg = await makeJpeg(200, 100)
  const probe = new ImageProbe(defaults)
  const output = new PassThrough()
  probe.pipe(output)
  probe.write(jpeg.subarray(0, jpeg.length - 10))
  t.match(probe.header, { format: 'jpeg', width: 200, height: 100 })
  t.equal(probe.result, undefined, 'no result before the end')
  probe.end(jpeg.subarray(jpeg.length - 10))
  output.resume()
  t.match(await probe.done, { bytes: jpeg.length })
})

t.test('rejects text at once', async (t) => {
  const { stream, pulled } = countingSource(Buffer.from('hello, this is not an image'), 500)
  const probe = new ImageProbe(defaults)
  await t.rejects(pipeline(stream, probe, discard()), { code: 'unsupported_format', message: 'not a PNG or JPEG image' })
  t.ok(pulled() < 50, `stopped after ${pulled()} of 501 chunks`)
  await t.rejects(probe.done, ImageRejectedError)
})

t.test('rejects an empty file', async (t) => {
  await t.rejects(probeChunks([]), { code: 'empty', message: 'the file is empty' })
  t.throws(() => probeBuffer(Buffer.alloc(0), defaults), { code: 'empty' })
})

t.test('rejects a file over maxBytes, accepts one exactly at it', async (t) => {
  const png = await makePng(100, 100)
  t.equal((await probeChunks([png], { maxBytes: png.length, maxPixels: 1e6 })).result.bytes, png.length)
  await t.rejects(probeChunks([png], { maxBytes: png.length - 1, maxPixels: 1e6 }), { code: 'too_large' })
  await t.rejects(probeChunks([png.subarray(0, 100), png.subarray(100)], { maxBytes: 200, maxPixels: 1e6 }), {
    code: 'too_large',
    message: 'image exceeds the 200 bytes limit',
  })
  const big = patchIhdr(await makePng(10, 10), {})
  const { stream, pulled } = countingSource(big.subarray(0, 33), 1000)
  await t.rejects(pipeline(stream, new ImageProbe(defaults), discard()), {
    code: 'too_large',
    message: 'image exceeds the 25 MiB limit',
  })
  t.ok(pulled() < 450, `stopped after ${pulled()} chunks, a little over 25 MiB`)
})

t.test('reports a format problem inside the byte limit before the size', async (t) => {
  t.throws(() => probeBuffer(Buffer.from('GIF89a and much more'), { maxBytes: 4, maxPixels: 1 }), { code: 'unsupported_format' })
})

t.test('rejects too many pixels before the rest of the file is read', async (t) => {
  const png = patchIhdr(await makePng(100, 100), { width: 30000, height: 30000 })
  const { stream, pulled } = countingSource(png, 300)
  const probe = new ImageProbe(defaults)
  await t.rejects(pipeline(stream, probe, discard()), {
    code: 'too_many_pixels',
    message: 'image is 30000×30000 = 900 MP, over the 50 MP limit',
  })
  t.ok(pulled() < 50, `stopped after ${pulled()} of 301 chunks`)
  t.equal(probe.header, undefined)
  await t.rejects(probe.done, { code: 'too_many_pixels' })
})

t.test('rejects a truncated upload at the end', async (t) => {
  const jpeg = await makeJpeg(50, 50)
  await t.rejects(probeChunks([jpeg.subarray(0, jpeg.length - 100)]), {
    code: 'invalid_image',
    message: /truncated or corrupt/,
  })
})

t.test('done rejects when the stream is destroyed early', async (t) => {
  const probe = new ImageProbe(defaults)
  probe.write(Buffer.from([0xff, 0xd8]))
  probe.destroy()
  await t.rejects(probe.done, { message: /closed before it ended/ })
})

t.test('an unobserved rejection does not go unhandled', async (t) => {
  const probe = new ImageProbe(defaults)
  probe.on('error', () => {})
  probe.end(Buffer.from('text'))
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(probe.destroyed)
})

t.test('validates its limits', async (t) => {
  t.throws(() => new ImageProbe({ maxBytes: 0, maxPixels: 1 }), RangeError)
  t.throws(() => new ImageProbe({ maxBytes: 1, maxPixels: Number.NaN }), /maxPixels/)
  t.throws(() => new ImageInspector({ ...generous, maxHeaderBytes: -1 }), /maxHeaderBytes/)
})

t.test('ImageInspector keeps its verdict', async (t) => {
  const inspector = new ImageInspector(defaults)
  t.throws(() => inspector.push(Buffer.from('nope')), { code: 'unsupported_format' })
  t.throws(() => inspector.push(Buffer.from([0xff])), { code: 'unsupported_format' }, 'the same error again')
  t.throws(() => inspector.finish(), { code: 'unsupported_format' })

  const png = await makePng(4, 4)
  const accepted = new ImageInspector(defaults)
  accepted.push(png)
  const result = accepted.finish()
  t.equal(accepted.finish(), result, 'finish is idempotent')
  t.throws(() => accepted.push(png), /after finish/)
})

t.test('gives sizes in the units people use', async (t) => {
  const png = await makePng(10, 10)
  const limits = (maxBytes: number) => ({ maxBytes, maxPixels: 1e9 })
  t.throws(() => probeBuffer(png, limits(100)), { message: 'image exceeds the 100 bytes limit' })
  const large = Buffer.concat([png, Buffer.alloc(3 * MiB)])
  t.throws(() => probeBuffer(large, limits(1.5 * MiB)), { message: 'image exceeds the 1.5 MiB limit' })
  t.throws(() => probeBuffer(large, limits(2048)), { message: 'image exceeds the 2 KiB limit' })
})
