import { randomBytes } from 'node:crypto'
import { PassThrough, Readable } from 'node:stream'
import t from 'tap'
import { readIntoBuffer } from '../src/read-into-buffer.js'

// The length checks in isolation; get-object-buffer.test.ts reads through them from a real S3 server.

t.test('chunks fill one buffer of exactly the expected length', async (t) => {
  const chunks = Array.from({ length: 50 }, () => randomBytes(10_007))
  const read = await readIntoBuffer(Readable.from(chunks), 50 * 10_007)
  t.ok(read.equals(Buffer.concat(chunks)))
  t.equal(read.length, 50 * 10_007)
  t.same(await readIntoBuffer(Readable.from([]), 0), Buffer.alloc(0), 'an empty stream')
})

t.test('a stream that ends short is a RangeError, not a partly filled buffer', async (t) => {
  await t.rejects(readIntoBuffer(Readable.from([Buffer.alloc(10), Buffer.alloc(5)]), 20), {
    name: 'RangeError',
    message: 'stream ended after 15 of the expected 20 bytes',
  })
})

t.test('a stream that carries more is a RangeError and is destroyed at the first extra byte', async (t) => {
  const stream = new PassThrough()
  const reading = readIntoBuffer(stream, 20)
  stream.write(Buffer.alloc(15))
  stream.write(Buffer.alloc(10))
  await t.rejects(reading, { name: 'RangeError', message: 'stream carries more than the expected 20 bytes' })
  t.ok(stream.destroyed)
})

t.test('a stream that fails or closes early rejects with its error', async (t) => {
  const failing = new PassThrough()
  const reading = readIntoBuffer(failing, 20)
  failing.write(Buffer.alloc(5))
  failing.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
  await t.rejects(reading, { message: 'aborted', code: 'ECONNRESET' })

  const closed = new PassThrough()
  const closing = readIntoBuffer(closed, 20)
  closed.destroy()
  await t.rejects(closing, { code: 'ERR_STREAM_PREMATURE_CLOSE' })
})

t.test('an invalid length is refused', async (t) => {
  await t.rejects(readIntoBuffer(Readable.from([]), -1), RangeError)
  await t.rejects(readIntoBuffer(Readable.from([]), 1.5), RangeError)
})
