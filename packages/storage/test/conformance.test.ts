import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { testS3Store, type S3Store } from '@imageapi/radosgw'
import { createMinioStorage, ObjectNotFoundError, StorageUnavailableError, type MinioStorage } from '../src/index.js'
import { putRaw } from './support/put-raw.js'
import { createTestBucket } from './support/test-bucket.js'

// What the project needs from any S3 store it supports, written once over a store description so
// the same cases can run against each. Only radosgw runs here: MinIO has no package for this machine
// and no container image can be pulled, and AWS S3 cannot be reached from it (tests stay on
// 127.0.0.1). To check another store, call `conformance` with its endpoint and keys.

interface StoreUnderTest {
  /** Shown in the test names. */
  name: string
  store: S3Store
  /** The bucket the cases use; created and removed around them. */
  createBucket(t: Test): Promise<{ bucket: string; storage: MinioStorage }>
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex')

/** A stream of `bytes` in uneven chunks and without a known length, as an upload arrives. */
function unknownLength(bytes: Buffer): Readable {
  let offset = 0
  return new Readable({
    read() {
      if (offset >= bytes.length) return void this.push(null)
      const size = 1 + Math.floor(Math.random() * 300_000)
      this.push(bytes.subarray(offset, offset + size))
      offset += size
    },
  })
}

/** The same URL with its signature's last hex digit changed. */
function tampered(url: string): string {
  const signed = new URL(url)
  const signature = signed.searchParams.get('X-Amz-Signature') ?? ''
  const last = signature.at(-1) === '0' ? '1' : '0'
  signed.searchParams.set('X-Amz-Signature', signature.slice(0, -1) + last)
  return signed.href
}

function conformance(t: Test, target: StoreUnderTest) {
  t.test(`${target.name}: S3 conformance`, async (t) => {
    const { store } = target
    const { bucket, storage } = await target.createBucket(t)
    const payload = randomBytes(3 * 1024 * 1024 + 7)

    t.test('a Buffer put comes back byte for byte with its content type', async (t) => {
      await storage.putObject('buffer/one', payload, payload.length, 'image/png')
      const body = await storage.getObject('buffer/one')
      t.equal((body as Readable & { headers: Record<string, string> }).headers['content-type'], 'image/png')
      const chunks: Buffer[] = []
      for await (const chunk of body) chunks.push(chunk as Buffer)
      t.equal(md5(Buffer.concat(chunks)), md5(payload))
    })

    t.test('a stream of unknown length of 21 MB goes multipart through putStream and comes back whole', async (t) => {
      const bytes = randomBytes(21 * 1024 * 1024 + 3)
      const stored = await storage.putStream(unknownLength(bytes), () => ({ key: 'stream/large', contentType: 'image/jpeg' }))
      t.same(stored, { key: 'stream/large', contentType: 'image/jpeg', size: bytes.length })
      t.equal(md5(await storage.getObjectBuffer('stream/large')), md5(bytes))
      // radosgw 16 answers the multipart completion with an empty ETag; stat gives the real one.
      const info = await storage.statObject('stream/large')
      t.equal(info?.size, bytes.length)
      t.match(info?.etag, /^[0-9a-f]{32}-\d+$/, 'a multipart etag: MD5 of the part MD5s, dash, part count')
    })

    t.test('stat gives the size, the MD5 etag of a single put and a recent lastModified', async (t) => {
      const before = Date.now()
      await storage.putObject('stat/one', payload, payload.length, 'application/octet-stream')
      const info = await storage.statObject('stat/one')
      t.equal(info?.size, payload.length)
      t.equal(info?.etag, md5(payload))
      t.ok(info !== null && Math.abs(info.lastModified.getTime() - before) < 60_000, 'lastModified within a minute of the put')
    })

    t.test('single byte ranges: the start, the middle, the end, and an end past the object', async (t) => {
      await storage.putObject('range/one', payload, payload.length, 'application/octet-stream')
      const last = payload.length - 1
      for (const [name, range, expected] of [
        ['first byte', { start: 0, end: 0 }, payload.subarray(0, 1)],
        ['middle', { start: 1_000_000, end: 1_065_535 }, payload.subarray(1_000_000, 1_065_536)],
        ['last byte', { start: last, end: last }, payload.subarray(last)],
        ['end past the object: up to the last byte', { start: last - 9, end: last + 1000 }, payload.subarray(last - 9)],
      ] as const) {
        const { body, length } = await storage.openObject('range/one', range)
        const chunks: Buffer[] = []
        for await (const chunk of body) chunks.push(chunk as Buffer)
        t.equal(length, expected.length, `${name}: Content-Length`)
        t.ok(Buffer.concat(chunks).equals(expected), `${name}: bytes`)
      }
    })

    t.test('a presigned GET serves the object to plain fetch', async (t) => {
      await storage.putObject('presigned/get', payload, payload.length, 'image/png')
      const response = await fetch(await storage.presignedGetUrl('presigned/get', 60))
      t.equal(response.status, 200)
      t.equal(md5(Buffer.from(await response.arrayBuffer())), md5(payload))
    })

    t.test('a presigned PUT stores what plain fetch sends', async (t) => {
      const bytes = randomBytes(100_000)
      const response = await fetch(await storage.presignedPutUrl('presigned/put', 60), { method: 'PUT', body: bytes })
      t.equal(response.status, 200)
      t.equal(md5(await storage.getObjectBuffer('presigned/put')), md5(bytes))
    })

    t.test('a presigned PUT bound to a content type stores it, and refuses another type with 403', async (t) => {
      const url = await storage.presignedPutUrl('presigned/typed', 60, { contentType: 'image/jpeg' })
      const refused = await fetch(url, { method: 'PUT', body: Buffer.from('x'), headers: { 'content-type': 'text/html' } })
      t.equal(refused.status, 403, 'another type')
      t.equal(await storage.statObject('presigned/typed'), null, 'nothing stored by the refused PUT')
      const accepted = await fetch(url, { method: 'PUT', body: Buffer.from('jpeg'), headers: { 'content-type': 'image/jpeg' } })
      t.equal(accepted.status, 200, 'the bound type')
      const body = await storage.getObject('presigned/typed')
      t.equal((body as Readable & { headers: Record<string, string> }).headers['content-type'], 'image/jpeg')
      body.resume()
    })

    t.test('a presigned PUT bound to a content length stores exactly that many bytes and refuses more, fewer or a chunked body with 403', async (t) => {
      const bytes = randomBytes(50_000)
      const url = await storage.presignedPutUrl('presigned/sized', 60, { contentType: 'image/png', contentLength: bytes.length })
      const longer = await putRaw(url, Buffer.concat([bytes, Buffer.from('x')]), { 'content-type': 'image/png' })
      t.equal(longer, 403, 'one byte more')
      const shorter = await putRaw(url, bytes.subarray(1), { 'content-type': 'image/png' })
      t.equal(shorter, 403, 'one byte fewer')
      const chunked = await putRaw(url, bytes, { 'content-type': 'image/png', 'transfer-encoding': 'chunked' })
      t.equal(chunked, 403, 'chunked, without a Content-Length')
      t.equal(await storage.statObject('presigned/sized'), null, 'nothing stored by the refused PUTs')
      t.equal(await putRaw(url, bytes, { 'content-type': 'image/png' }), 200, 'the bound length')
      t.equal(md5(await storage.getObjectBuffer('presigned/sized')), md5(bytes))
    })

    t.test('a presigned PUT writes only its own key: the same signature on another key is refused with 403', async (t) => {
      const url = new URL(await storage.presignedPutUrl('presigned/own', 60, { contentLength: 4 }))
      url.pathname = url.pathname.replace(/own$/, 'other')
      t.equal(await putRaw(url.href, Buffer.from('evil'), {}), 403)
      t.equal(await storage.statObject('presigned/other'), null)
    })

    t.test('copyObject copies on the server with the content type, and a missing source is ObjectNotFoundError', async (t) => {
      await storage.putObject('copy/source', payload, payload.length, 'image/png')
      await storage.copyObject('copy/source', 'copy/target')
      t.equal(md5(await storage.getObjectBuffer('copy/target')), md5(payload), 'same bytes')
      const body = await storage.getObject('copy/target')
      t.equal((body as Readable & { headers: Record<string, string> }).headers['content-type'], 'image/png', 'same content type')
      body.resume()
      await t.rejects(storage.copyObject('copy/missing', 'copy/nothing'), ObjectNotFoundError, 'a missing source')
    })

    t.test('a presigned URL whose signature was tampered with is refused with 403', async (t) => {
      await storage.putObject('presigned/tamper', payload, payload.length, 'image/png')
      const get = await fetch(tampered(await storage.presignedGetUrl('presigned/tamper', 60)))
      t.equal(get.status, 403, 'GET')
      t.match(await get.text(), /<Code>SignatureDoesNotMatch<\/Code>/)
      const put = await fetch(tampered(await storage.presignedPutUrl('presigned/tamper', 60)), { method: 'PUT', body: Buffer.from('overwritten') })
      t.equal(put.status, 403, 'PUT')
      t.equal((await storage.statObject('presigned/tamper'))?.size, payload.length, 'the object was not overwritten')
    })

    t.test('a missing key is ObjectNotFoundError on reads and null on stat', async (t) => {
      await t.rejects(storage.getObject('missing/key'), ObjectNotFoundError, 'getObject')
      await t.rejects(storage.getObject('missing/key', { start: 0, end: 9 }), ObjectNotFoundError, 'ranged getObject')
      await t.rejects(storage.openObject('missing/key'), ObjectNotFoundError, 'openObject')
      await t.rejects(storage.getObjectBuffer('missing/key'), { name: 'ObjectNotFoundError', key: 'missing/key' }, 'getObjectBuffer, naming the key')
      t.equal(await storage.statObject('missing/key'), null, 'statObject')
    })

    t.test('a missing bucket is StorageUnavailableError naming the bucket and the endpoint', async (t) => {
      const elsewhere = createMinioStorage({ ...store, bucket: `${bucket}-missing`, keepAlive: false })
      t.teardown(() => elsewhere.close())
      const message = `bucket ${bucket}-missing does not exist at ${store.endPoint}`
      await t.rejects(elsewhere.ping(), { name: 'StorageUnavailableError', message }, 'ping')
      await t.rejects(elsewhere.getObject('k'), { name: 'StorageUnavailableError', message }, 'getObject')
      await t.rejects(elsewhere.statObject('k'), { name: 'StorageUnavailableError', message }, 'statObject')
      await t.rejects(elsewhere.putObject('k', Buffer.from('x'), 1, 'text/plain'), { name: 'StorageUnavailableError', message }, 'putObject')
    })

    t.test('deleting a missing key is not an error and removes nothing else', async (t) => {
      await storage.putObject('delete/kept', Buffer.from('kept'), 4, 'text/plain')
      await t.resolves(storage.removeObjects(['delete/never-was']))
      t.equal((await storage.statObject('delete/kept'))?.size, 4)
    })

    t.test('the bucket exists: ping resolves and ensureBucket is idempotent', async (t) => {
      await t.resolves(storage.ping(), 'ping')
      await t.resolves(storage.ensureBucket(), 'ensureBucket on the existing bucket')
      await t.resolves(storage.ensureBucket(), 'and again')
      t.equal((await storage.statObject('delete/kept'))?.size, 4, 'its objects are untouched')
    })

    t.test('a wrong secret key is refused', async (t) => {
      const impostor = createMinioStorage({ ...store, secretKey: `${store.secretKey}-wrong`, bucket, keepAlive: false })
      t.teardown(() => impostor.close())
      await t.rejects(impostor.ping(), { name: 'StorageUnavailableError', message: /^storage refused the credentials for bucket / }, 'ping')
      await t.rejects(impostor.getObjectBuffer('delete/kept'), StorageUnavailableError, 'a read')
    })

    t.test('unsigned requests to list the bucket or GET an object are refused with 403', async (t) => {
      for (const path of [`/${bucket}`, `/${bucket}?list-type=2`, `/${bucket}/delete/kept`]) {
        const response = await fetch(`${store.endPoint}${path}`)
        t.equal(response.status, 403, path)
        t.match(await response.text(), /<Code>AccessDenied<\/Code>/, `${path}: AccessDenied`)
      }
    })
  })
}

const radosgw = await testS3Store()
conformance(t, {
  name: 'radosgw',
  store: radosgw,
  createBucket: async (t) => createTestBucket(t, 'conformance'),
})
