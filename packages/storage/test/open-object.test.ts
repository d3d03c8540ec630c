import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buffer } from 'node:stream/consumers'
import { ObjectNotFoundError } from '../src/index.js'
import { createTestBucket } from './support/test-bucket.js'

const { storage } = await createTestBucket(t, 'open')

t.test('openObject gives the stream and the length the server sends, whole or ranged', async (t) => {
  const data = randomBytes(70_000)
  await storage.putObject('a/b.bin', data, data.length, 'application/octet-stream')
  const whole = await storage.openObject('a/b.bin')
  t.equal(whole.length, data.length)
  t.same(await buffer(whole.body), data)
  const part = await storage.openObject('a/b.bin', { start: 10, end: 19 })
  t.equal(part.length, 10)
  t.same(await buffer(part.body), data.subarray(10, 20))

  const replaced = randomBytes(1234)
  await storage.putObject('a/b.bin', replaced, replaced.length, 'application/octet-stream')
  const after = await storage.openObject('a/b.bin')
  t.equal(after.length, 1234, 'the length follows the object, not what a caller remembered')
  t.same(await buffer(after.body), replaced)
})

t.test('openObject of a missing key rejects with ObjectNotFoundError', async (t) => {
  await t.rejects(storage.openObject('nope'), ObjectNotFoundError)
})
