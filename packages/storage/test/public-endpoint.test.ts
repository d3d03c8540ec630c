import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createMinioStorage } from '../src/index.js'
import { createTestBucket } from './support/test-bucket.js'
import { startIdleClosingProxy } from './support/idle-closing-proxy.js'
import { putRaw } from './support/put-raw.js'

// Clients may reach the store at another address than the services do (compose: `minio:9000` inside,
// a published port outside). A proxy on another port stands for that public address here.
t.test('presigned URLs are signed for publicEndPoint: they point at it and the store accepts them there', async (t) => {
  const { store, bucket, storage } = await createTestBucket(t, 'public-endpoint')
  const proxy = await startIdleClosingProxy(t, store.endPoint)
  const outward = createMinioStorage({ ...store, bucket, keepAlive: false, publicEndPoint: proxy.endPoint })
  t.teardown(() => outward.close())
  const bytes = randomBytes(10_000)

  const putUrl = await outward.presignedPutUrl('public/put', 60, { contentType: 'image/png', contentLength: bytes.length })
  t.equal(new URL(putUrl).origin, proxy.endPoint, 'the PUT URL names the public address')
  t.equal(await putRaw(putUrl, bytes, { 'content-type': 'image/png' }), 200, 'a PUT through the public address is accepted')
  t.same(await storage.getObjectBuffer('public/put'), bytes, 'and stored the bytes')

  const getUrl = await outward.presignedGetUrl('public/put', 60)
  t.equal(new URL(getUrl).origin, proxy.endPoint, 'the GET URL names the public address')
  const fetched = await fetch(getUrl)
  t.equal(fetched.status, 200)
  t.same(Buffer.from(await fetched.arrayBuffer()), bytes)

  const inward = new URL(await storage.presignedPutUrl('public/inward', 60, { contentLength: 3 }))
  const sentToPublic = new URL(inward.pathname + inward.search, proxy.endPoint).href
  t.equal(await putRaw(sentToPublic, Buffer.from('abc'), {}), 403, 'a URL signed for the inside address is refused at the public one')
})
