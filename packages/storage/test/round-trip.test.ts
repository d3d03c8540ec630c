import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import t from 'tap'
import { createMinioStorage, ObjectNotFoundError, StorageUnavailableError } from '../src/index.js'
import { createTestBucket, removeBucket } from './support/test-bucket.js'

const { store, bucket, storage, admin } = await createTestBucket(t, 'round-trip')

// Several MiB, random so that a misplaced byte range cannot match by accident.
const payload = randomBytes(6 * 1024 * 1024 + 123)

t.test('ping and ensureBucket resolve on an existing bucket and leave its objects alone', async (t) => {
  await storage.putObject('kept/by-ensure', Buffer.from('kept'), 4, 'text/plain')
  await t.resolves(storage.ping(), 'ping')
  await t.resolves(storage.ensureBucket(), 'ensureBucket')
  t.equal((await storage.getObjectBuffer('kept/by-ensure')).toString(), 'kept', 'the object is still there')
  await storage.removeObjects(['kept/by-ensure'])
})

t.test('a buffer goes in and comes out whole, in a range, and as a buffer', async (t) => {
  const key = 'originals/buffer.bin'
  await storage.putObject(key, payload, payload.length, 'application/octet-stream')

  const info = await storage.statObject(key)
  t.equal(info?.size, payload.length)
  t.match(info?.etag, /^[0-9a-f]{32}$/)
  t.ok(info?.lastModified instanceof Date && !Number.isNaN(info.lastModified.getTime()))

  t.ok((await buffer(await storage.getObject(key))).equals(payload), 'full object')
  const range = { start: 1_000_000, end: 1_065_535 }
  const part = await buffer(await storage.getObject(key, range))
  t.ok(part.equals(payload.subarray(range.start, range.end + 1)), 'byte range, end inclusive')
  const head = await buffer(await storage.getObject(key, { start: 0, end: 9 }))
  t.ok(head.equals(payload.subarray(0, 10)), 'range from the first byte')
  t.ok((await storage.getObjectBuffer(key)).equals(payload), 'getObjectBuffer')

  await storage.removeObjects([key])
  t.equal(await storage.statObject(key), null)
})

t.test('a stream of known length is piped in and keeps its content type', async (t) => {
  const key = 'originals/file.bin'
  await storage.putObject(key, Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]), payload.length, 'image/png')

  t.equal((await storage.statObject(key))?.size, payload.length)
  const download = await storage.getObject(key)
  t.equal((download as unknown as { headers: Record<string, string> }).headers['content-type'], 'image/png')
  t.ok((await buffer(download)).equals(payload))
  await storage.removeObjects([key])
})

t.test('a stream of many small chunks is uploaded as it is read', async (t) => {
  const chunks = Array.from({ length: 300 }, () => randomBytes(10_000))
  const expected = Buffer.concat(chunks)
  const key = 'originals/chunks.bin'
  await storage.putObject(key, Readable.from(chunks), expected.length, 'image/jpeg')
  t.ok((await storage.getObjectBuffer(key)).equals(expected))
  await storage.removeObjects([key])
})

t.test('a stream whose length differs from the declared size is rejected', async (t) => {
  await t.rejects(
    storage.putObject('originals/short.bin', Readable.from([Buffer.alloc(10)]), 20, 'image/png'),
    RangeError,
  )
  await t.rejects(
    storage.putObject('originals/long.bin', Readable.from([Buffer.alloc(10), Buffer.alloc(15)]), 20, 'image/png'),
    RangeError,
  )
  await t.rejects(storage.putObject('originals/buffer.bin', Buffer.alloc(10), 20, 'image/png'), RangeError)
  t.equal(await storage.statObject('originals/short.bin'), null, 'no truncated object was stored')
  t.equal(await storage.statObject('originals/long.bin'), null, 'no object was stored from the longer body')
  // The server is still usable afterwards.
  await t.resolves(storage.ping())
})

t.test('a missing object is ObjectNotFoundError on get and null on stat', async (t) => {
  const key = 'originals/does-not-exist'
  const error = await storage.getObject(key).then(
    () => undefined,
    (error: unknown) => error,
  )
  t.ok(error instanceof ObjectNotFoundError, 'getObject')
  t.ok(!(error instanceof StorageUnavailableError))
  t.equal((error as ObjectNotFoundError).key, key)
  await t.rejects(storage.getObject(key, { start: 0, end: 10 }), ObjectNotFoundError, 'ranged getObject')
  await t.rejects(storage.getObjectBuffer(key), ObjectNotFoundError, 'getObjectBuffer')
  t.equal(await storage.statObject(key), null)
})

t.test('an invalid range is refused with RangeError', async (t) => {
  await t.rejects(storage.getObject('any', { start: 10, end: 5 }), RangeError)
  await t.rejects(storage.getObject('any', { start: -1, end: 5 }), RangeError)
})

t.test('a presigned URL serves the bytes to plain fetch, with the requested headers', async (t) => {
  const key = 'thumbnails/presigned.bin'
  await storage.putObject(key, payload, payload.length, 'application/octet-stream')
  const url = await storage.presignedGetUrl(key, 60, {
    contentType: 'image/png',
    cacheControl: 'private, max-age=60',
    contentDisposition: 'inline; filename="x.png"',
  })
  const response = await fetch(url)
  t.equal(response.status, 200)
  t.equal(response.headers.get('content-type'), 'image/png')
  t.equal(response.headers.get('cache-control'), 'private, max-age=60')
  t.equal(response.headers.get('content-disposition'), 'inline; filename="x.png"')
  t.ok(Buffer.from(await response.arrayBuffer()).equals(payload))
  await storage.removeObjects([key])
})

t.test('removeObjects removes keys sharing a prefix', async (t) => {
  const keys = ['images/42/original', 'images/42/200', 'images/42/400']
  for (const key of keys) await storage.putObject(key, Buffer.from('x'), 1, 'image/png')
  await storage.removeObjects(keys)
  for (const key of keys) t.equal(await storage.statObject(key), null, key)
})

t.test('listKeys lists every key under a prefix', async (t) => {
  const keys = ['list/b/2', 'list/a', 'list/b/1', 'other/x']
  for (const key of keys) await storage.putObject(key, Buffer.from('x'), 1, 'text/plain')
  t.same(await storage.listKeys('list/'), ['list/a', 'list/b/1', 'list/b/2'])
  t.same(await storage.listKeys('list/b/'), ['list/b/1', 'list/b/2'])
  t.same(await storage.listKeys('nothing/'), [])
  await storage.removeObjects(keys)
  t.same(await storage.listKeys(), [], 'earlier tests left nothing behind')
})

t.test('removeObjects ignores missing keys and an empty list', async (t) => {
  await storage.putObject('a/1', Buffer.from('one'), 3, 'text/plain')
  await storage.putObject('a/2', Buffer.from('two'), 3, 'text/plain')
  await t.resolves(storage.removeObjects(['a/1', 'a/missing', 'b/also-missing']), 'missing keys beside a present one')
  t.equal(await storage.statObject('a/1'), null, 'the present one is gone')
  await t.resolves(storage.removeObjects([]), 'an empty list')
  await t.resolves(storage.removeObjects(['never/existed']), 'only missing keys')
  t.same(await storage.listKeys('a/'), ['a/2'], 'nothing else was removed')
  await storage.removeObjects(['a/2'])
})

t.test('ensureBucket creates a missing bucket; ping reports it missing until then', async (t) => {
  const other = createMinioStorage({ ...store, bucket: `${bucket}-new`, keepAlive: false })
  t.teardown(async () => {
    other.close()
    await removeBucket(admin, `${bucket}-new`)
  })
  await t.rejects(other.ping(), StorageUnavailableError)
  await other.ensureBucket()
  await t.resolves(other.ensureBucket(), 'a second ensureBucket is no error')
  await t.resolves(other.ping(), 'ping finds it')
  t.equal(await admin.bucketExists(`${bucket}-new`), true, 'the store has it')
})

t.test('an endpoint that is not a bare http(s) URL is refused', async (t) => {
  const config = { accessKey: 'a', secretKey: 'b', bucket }
  t.throws(() => createMinioStorage({ ...config, endPoint: 'localhost:9000' }), /endpoint/)
  t.throws(() => createMinioStorage({ ...config, endPoint: 'ftp://localhost:9000' }), /http or https/)
  t.throws(() => createMinioStorage({ ...config, endPoint: 'http://localhost:9000/s3' }), /path/)
})
