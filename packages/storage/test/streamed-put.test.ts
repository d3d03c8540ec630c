import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import t from 'tap'
import { Client } from 'minio'
import { testS3Store } from '@imageapi/radosgw'
import { ByteBudget, createMinioStorage, MIN_PART_BYTES, PartBufferPool } from '../src/index.js'

const store = await testS3Store()
const bucket = `streamed-put-${randomUUID().slice(0, 8)}`
const storage = createMinioStorage({ ...store, bucket, keepAlive: false, uploadBufferBytes: 4 * MIN_PART_BYTES })
await storage.ensureBucket()
const url = new URL(store.endPoint)
const admin = new Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: store.accessKey, secretKey: store.secretKey, region: store.region, pathStyle: true })
t.teardown(async () => {
  const keys = await storage.listKeys()
  await storage.removeObjects(keys)
  await admin.removeBucket(bucket)
  storage.close()
})

/** A stream of `bytes` in chunks of uneven size, as a network delivers them; optionally failing after `failAfter` bytes. */
function chunked(bytes: Buffer, failAfter?: number): Readable {
  let offset = 0
  return new Readable({
    read() {
      if (failAfter !== undefined && offset >= failAfter) {
        this.destroy(new Error('the client went away'))
        return
      }
      if (offset >= bytes.length) {
        this.push(null)
        return
      }
      const size = 1 + Math.floor(Math.random() * 200_000)
      this.push(bytes.subarray(offset, offset + size))
      offset += size
    },
  })
}

async function incompleteUploads(): Promise<string[]> {
  const keys: string[] = []
  for await (const upload of admin.listIncompleteUploads(bucket, '', true)) keys.push(upload.key)
  return keys
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex')

t.test('a body smaller than a part is stored whole by one PUT, its key and type chosen after it is read', async (t) => {
  const bytes = randomBytes(300_000)
  let asked = 0
  const stored = await storage.putStream(chunked(bytes), () => (asked++, { key: 'small/one', contentType: 'image/png' }), { sizeHint: bytes.length + 200 })
  t.same(stored, { key: 'small/one', contentType: 'image/png', size: bytes.length })
  t.equal(asked, 1)
  t.equal(md5(await storage.getObjectBuffer('small/one')), md5(bytes))
  const info = await storage.statObject('small/one')
  t.equal(info?.size, bytes.length)
  t.equal(info?.etag, md5(bytes), 'a single PUT: the etag is the MD5 of the bytes')
})

t.test('a 21 MB body of unknown length goes multipart and comes back byte for byte', async (t) => {
  const bytes = randomBytes(21 * 1024 * 1024 + 17)
  const stored = await storage.putStream(chunked(bytes), () => ({ key: 'large/one', contentType: 'image/jpeg' }))
  t.equal(stored.size, bytes.length)
  t.equal(md5(await buffer(await storage.getObject('large/one'))), md5(bytes))
  const info = await storage.statObject('large/one')
  t.equal(info?.size, bytes.length)
  t.match(info?.etag, /^[0-9a-f]{32}-5$/, 'five parts: 4 × 5 MiB and the rest')
  t.same(await incompleteUploads(), [])
})

t.test('a body of exactly two parts leaves no empty third part', async (t) => {
  const bytes = randomBytes(2 * MIN_PART_BYTES)
  const stored = await storage.putStream(chunked(bytes), () => ({ key: 'large/exact', contentType: 'image/jpeg' }))
  t.equal(stored.size, bytes.length)
  t.match((await storage.statObject('large/exact'))?.etag, /-2$/)
  t.equal(md5(await storage.getObjectBuffer('large/exact')), md5(bytes))
})

t.test('a size hint that is too small only costs a larger buffer: the body is stored whole', async (t) => {
  const bytes = randomBytes(MIN_PART_BYTES + 1000)
  const stored = await storage.putStream(chunked(bytes), () => ({ key: 'hint/wrong', contentType: 'image/jpeg' }), { sizeHint: 10 })
  t.equal(stored.size, bytes.length)
  t.equal(md5(await storage.getObjectBuffer('hint/wrong')), md5(bytes))
})

t.test('a body failing half-way through a multipart upload leaves no object and no incomplete upload', async (t) => {
  const bytes = randomBytes(12 * 1024 * 1024)
  await t.rejects(storage.putStream(chunked(bytes, 8 * 1024 * 1024), () => ({ key: 'failed/multipart', contentType: 'image/jpeg' })), /the client went away/)
  t.equal(await storage.statObject('failed/multipart'), null)
  t.same(await incompleteUploads(), [])
})

t.test('a body failing within its first part never reaches storage', async (t) => {
  const bytes = randomBytes(1_000_000)
  let asked = 0
  await t.rejects(storage.putStream(chunked(bytes, 500_000), () => (asked++, { key: 'failed/small', contentType: 'image/jpeg' })), /the client went away/)
  t.equal(asked, 0, 'the target was never asked for')
  t.equal(await storage.statObject('failed/small'), null)
})

t.test('uploads beyond the memory budget wait for it and all complete', async (t) => {
  // the budget holds 4 parts; 6 uploads of 3 parts each need 2 parts at a time
  const bodies = Array.from({ length: 6 }, () => randomBytes(2 * MIN_PART_BYTES + 5000))
  const stored = await Promise.all(bodies.map((bytes, i) => storage.putStream(chunked(bytes), () => ({ key: `budget/${i}`, contentType: 'image/jpeg' }))))
  t.same(stored.map((s) => s.size), bodies.map((b) => b.length))
  for (const [i, bytes] of bodies.entries()) t.equal(md5(await storage.getObjectBuffer(`budget/${i}`)), md5(bytes), `upload ${i} whole`)
})

t.test('ByteBudget lends first come, first served and never more than it holds', async (t) => {
  const budget = new ByteBudget(10)
  await budget.acquire(6)
  const order: string[] = []
  const big = budget.acquire(8).then(() => order.push('big'))
  const small = budget.acquire(2).then(() => order.push('small'))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(order, [], 'the small request waits behind the big one, though 4 bytes are free')
  budget.release(6)
  await Promise.all([big, small])
  t.same(order, ['big', 'small'])
  t.equal(budget.availableBytes, 0)
  t.throws(() => budget.acquire(11), RangeError)
})

t.test('PartBufferPool hands the same whole-part buffers out again and never keeps more than its budget', async (t) => {
  const part = 1024
  const pool = new PartBufferPool(3 * part, part)
  const first = await pool.take(part)
  const second = await pool.take(part)
  const small = await pool.take(100)
  t.equal(pool.availableBytes, 3 * part - 2 * part - 100)
  pool.give(first)
  pool.give(second)
  pool.give(small)
  t.equal(pool.idleBuffers, 2, 'whole parts are kept, a small first piece is not')
  const reused = [await pool.take(part), await pool.take(part)]
  t.ok(reused.includes(first) && reused.includes(second), 'the kept buffers are lent again, not new ones')
  const third = await pool.take(part)
  let waited = true
  const fourth = pool.take(part).then((buffer) => ((waited = false), buffer))
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(waited, 'a fourth part waits: three fill the budget')
  pool.give(third)
  t.equal(await fourth, third)
  await t.rejects(pool.take(part + 1), RangeError)
})

t.test('abortIncompleteUploads aborts the unfinished multipart uploads of its key only', async (t) => {
  await admin.initiateNewMultipartUpload(bucket, 'incomplete/one', {})
  await admin.initiateNewMultipartUpload(bucket, 'incomplete/one', {})
  await admin.initiateNewMultipartUpload(bucket, 'incomplete/other', {})
  t.same((await incompleteUploads()).sort(), ['incomplete/one', 'incomplete/one', 'incomplete/other'], 'three unfinished uploads to begin with')
  await storage.abortIncompleteUploads('incomplete/one')
  t.same(await incompleteUploads(), ['incomplete/other'], 'the other key keeps its upload')
  await storage.abortIncompleteUploads('incomplete/nothing')
  await storage.abortIncompleteUploads('incomplete/other')
  t.same(await incompleteUploads(), [], 'a key without uploads is no error, and the last one is gone')
})
