import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { createMinioStorage } from '@imageapi/storage'
import { createTestEnvironment, createTestUser, jpegImage, multipartBody, s3AdminClient, startService } from '@imageapi/testkit'
import { buildApp } from '../src/app.js'
import { loadGatewayConfig } from '../src/config.js'
import { login } from './helpers/build-test-app.js'

// The gateway on a bucket of this file's own, which is removed under it while it runs; views go to a
// links service process on the same bucket. Storage faults must reach clients as 503 JSON.
const env = await createTestEnvironment(t)
const bucket = `readiness-${randomBytes(5).toString('hex')}`
const admin = s3AdminClient(env.s3)
await admin.makeBucket(bucket, env.s3.region)
t.teardown(async () => {
  if (!(await admin.bucketExists(bucket))) return
  await emptyBucket()
  await admin.removeBucket(bucket)
})
async function emptyBucket(): Promise<void> {
  const keys: string[] = []
  for await (const item of admin.listObjectsV2(bucket, '', true)) if (item.name) keys.push(item.name)
  if (keys.length) await admin.removeObjects(bucket, keys)
}

const variables = { ...env.env, S3_BUCKET: bucket }
const links = await startService(t, 'links', variables)

async function gatewayWith(secretKey: string) {
  const config = loadGatewayConfig({ ...variables, S3_SECRET_KEY: secretKey, LINKS_URL: links.url!, VIEW_ANSWER_CACHE_BYTES: '0', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', NODE_ENV: 'test' })
  const app = await buildApp({ config, storage: createMinioStorage({ ...env.s3, bucket, secretKey, keepAlive: false }) })
  t.teardown(() => app.close())
  await app.ready()
  return app
}
const app = await gatewayWith(env.s3.secretKey)
const user = await createTestUser(env.repos, 'Premium')
const { access } = await login(app, user.email, user.password)
const auth = { authorization: `Bearer ${access}` }

async function upload(target = app) {
  const form = multipartBody({ image: { filename: 'photo.jpg', data: await jpegImage(120, 90) } })
  return target.inject({ method: 'POST', url: '/api/images', payload: form.body, headers: { ...form.headers, ...auth } })
}
function expect503(t: Test, response: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, what: string) {
  t.equal(response.statusCode, 503, `${what}: 503`)
  t.match(response.headers['content-type'], /application\/json/, `${what}: JSON`)
  t.match(response.json(), { statusCode: 503, message: /temporarily unavailable/ }, `${what}: a message`)
}

const first = await upload()
if (first.statusCode !== 201) throw new Error(`setup upload failed: ${first.statusCode} ${first.body}`)
const image = first.json() as { id: string; original: { url: string } }
const viewPath = new URL(image.original.url).pathname

t.test('with the bucket there: /readyz is 200', async (t) => {
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  t.same(ready.json().checks, { postgres: 'ok', redis: 'ok', storage: 'ok' })
})

t.test('a wrong secret key: /readyz 503 naming the refused credentials, an upload 503 JSON', async (t) => {
  const wrong = await gatewayWith('not-the-secret')
  const ready = await wrong.inject('/readyz')
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().checks.storage, 'down')
  t.match(ready.json().message, new RegExp(`storage \\(.*credentials.*${bucket}`))
  expect503(t, await upload(wrong), 'upload')
})

t.test('the bucket removed under the running gateway', async (t) => {
  await emptyBucket()
  await admin.removeBucket(bucket)
  const imagesBefore = (await env.repos.images.listByOwner(user.user.id, { limit: 10 })).images.length

  t.test('/readyz: 503 naming the missing bucket', async (t) => {
    const ready = await app.inject('/readyz')
    t.equal(ready.statusCode, 503)
    t.equal(ready.json().checks.storage, 'down')
    t.match(ready.json().message, `storage (bucket ${bucket} does not exist`)
  })
  t.test('an upload: 503 JSON, and no row', async (t) => {
    expect503(t, await upload(), 'upload')
    t.equal((await env.repos.images.listByOwner(user.user.id, { limit: 10 })).images.length, imagesBefore, 'no image row')
  })
  t.test('a compat upload: 503 JSON', async (t) => {
    const form = multipartBody({ title: 'x', image: { filename: 'photo.jpg', data: await jpegImage(120, 90) } })
    const response = await app.inject({ method: 'POST', url: '/api/upload/original/', payload: form.body, headers: { ...form.headers, ...auth } })
    t.equal(response.statusCode, 503)
    t.match(response.headers['content-type'], /application\/json/)
  })
  t.test('a view link forwarded to the links service: 503 JSON', async (t) => {
    expect503(t, await app.inject(viewPath), 'view')
  })
  t.test('a delete: 204 (the rows go, the objects are left to the sweeper), never a 500', async (t) => {
    const response = await app.inject({ method: 'DELETE', url: `/api/images/${image.id}`, headers: auth })
    t.equal(response.statusCode, 204)
    t.equal(await env.repos.images.findByOwner(image.id, user.user.id), undefined, 'the image row is gone')
  })
})
