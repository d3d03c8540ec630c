import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StorageEnv } from '@imageapi/storage'
import { s3AdminClient, testS3Store } from '@imageapi/testkit'
import { startStackStore, type StackStore } from '../src/stack-store.js'

// The store `npm start` runs when S3_ENDPOINT is unset, started as stack.ts starts it (a persistent
// radosgw in a directory of its own here instead of <repo>/.data/radosgw).
const directory = await mkdtemp(join(tmpdir(), 'imageapi-stack-store-'))
t.teardown(() => rm(directory, { recursive: true, force: true }))
const env: StorageEnv = { S3_BUCKET: 'imageapi', S3_REGION: 'us-east-1' }
let store: StackStore = await startStackStore(env, { directory })
t.teardown(() => store.stop())

const key = 'originals/private.jpg'
const body = randomBytes(2048)
await s3AdminClient(store).putObject(store.bucket, key, body, body.length)

t.test('the embedded store is a radosgw in the given directory, with the bucket created and keys of its own', async (t) => {
  t.equal(store.directory, directory)
  t.match(store.endPoint, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.match(store.accessKey, /^imageapi-[0-9a-f]{12}$/, 'the cluster made an access key of its own')
  t.ok(store.secretKey.length >= 32, 'and a random secret')
  t.ok(await s3AdminClient(store).bucketExists('imageapi'))
})

t.test('an anonymous listing of the bucket is refused with 403', async (t) => {
  const response = await fetch(`${store.endPoint}/${store.bucket}?list-type=2&max-keys=5`)
  t.equal(response.status, 403)
  t.notMatch(await response.text(), 'private.jpg', 'no key is revealed')
})

t.test('an anonymous GET of an object is refused with 403', async (t) => {
  const response = await fetch(`${store.endPoint}/${store.bucket}/${key}`)
  t.equal(response.status, 403)
  const text = await response.text()
  t.not(text.length, body.length, 'the body is an error, not the object')
})

t.test('a request signed with a wrong secret key is refused (SignatureDoesNotMatch)', async (t) => {
  const wrong = s3AdminClient({ ...store, secretKey: `${store.secretKey}x` })
  await t.rejects(wrong.statObject(store.bucket, key), 'stat with a wrong secret')
  await t.rejects(
    async () => {
      for await (const item of wrong.listObjectsV2(store.bucket, '', true)) void item
    },
    { code: 'SignatureDoesNotMatch' },
    'listing with a wrong secret',
  )
})

t.test('objects, keys and endpoint survive a restart of the store', async (t) => {
  const before = { endPoint: store.endPoint, accessKey: store.accessKey, secretKey: store.secretKey }
  await store.stop()
  store = await startStackStore(env, { directory })
  t.same({ endPoint: store.endPoint, accessKey: store.accessKey, secretKey: store.secretKey }, before)
  const stream = await s3AdminClient(store).getObject(store.bucket, key)
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  t.ok(Buffer.concat(chunks).equals(body), 'the object written before the restart reads back byte for byte')
})

t.test('with S3_ENDPOINT set: the missing bucket is created on that store', async (t) => {
  const external = await testS3Store()
  const bucket = `stack-${randomBytes(5).toString('hex')}`
  const admin = s3AdminClient(external)
  t.teardown(() => admin.removeBucket(bucket))
  t.equal(await admin.bucketExists(bucket), false)
  const started = await startStackStore({ S3_ENDPOINT: external.endPoint, S3_ACCESS_KEY: external.accessKey, S3_SECRET_KEY: external.secretKey, S3_BUCKET: bucket, S3_REGION: external.region }, { directory: join(directory, 'unused') })
  t.equal(started.directory, undefined, 'no embedded store is started')
  t.equal(started.endPoint, external.endPoint)
  t.ok(await admin.bucketExists(bucket), 'the bucket exists now')
  // a second start finds it and keeps it
  await startStackStore({ S3_ENDPOINT: external.endPoint, S3_ACCESS_KEY: external.accessKey, S3_SECRET_KEY: external.secretKey, S3_BUCKET: bucket, S3_REGION: external.region }, { directory: join(directory, 'unused') })
  t.ok(await admin.bucketExists(bucket))
})

t.test('with S3_ENDPOINT set and a wrong secret: the start fails with a message naming the bucket, the endpoint and the variables', async (t) => {
  const external = await testS3Store()
  await t.rejects(
    startStackStore({ S3_ENDPOINT: external.endPoint, S3_ACCESS_KEY: external.accessKey, S3_SECRET_KEY: 'wrong-secret', S3_BUCKET: 'imageapi-wrong-secret', S3_REGION: external.region }, { directory: join(directory, 'unused') }),
    { message: new RegExp(`cannot use bucket imageapi-wrong-secret at ${external.endPoint.replace(/\./g, '\\.')} \\(S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET\\): .*(SignatureDoesNotMatch|credential|refused)`, "i") },
  )
})
