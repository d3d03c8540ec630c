import t, { type Test } from 'tap'
import { createMinioStorage } from '@imageapi/storage'
import { s3AdminClient } from '@imageapi/testkit'
import { buildLinksHarness, seedImage, userOnTier, viewPath } from './helpers/links-fixture.js'

// The links service on this file's bucket, which is removed under it; and one with a wrong secret.
// Storage faults must reach clients as 503 JSON, never a 404 (the link is fine) nor a bare 500.
const harness = await buildLinksHarness(t)
const { app, env, signer } = harness
const owner = await userOnTier(env, 'Enterprise')
const image = await seedImage(env, owner, { owed: [200] })
const thumbnail = viewPath(signer.sign({ imageId: image.id, variant: 200 }))
const original = viewPath(signer.sign({ imageId: image.id, variant: 'original' }))

function expect503(t: Test, response: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, what: string) {
  t.equal(response.statusCode, 503, `${what}: 503`)
  t.match(response.headers['content-type'], /application\/json/, `${what}: JSON`)
  t.match(response.json(), { statusCode: 503, message: /temporarily unavailable/ }, `${what}: a message`)
  t.equal(response.headers['retry-after'], '5', `${what}: retry-after`)
}

t.test('a wrong secret key: /readyz 503 naming the refused credentials, a view 503 JSON', async (t) => {
  const wrong = await harness.buildAnother({ storage: createMinioStorage({ ...env.s3, secretKey: 'not-the-secret', keepAlive: false }) })
  const ready = await wrong.inject('/readyz')
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().checks.storage, 'down')
  t.match(ready.json().message, new RegExp(`storage \\(.*credentials.*${env.s3.bucket}`))
  expect503(t, await wrong.inject(thumbnail), 'thumbnail view')
  expect503(t, await wrong.inject({ url: original, headers: { range: 'bytes=0-9' } }), 'ranged original view')
})

t.test('the bucket removed under the running service: /readyz names it, views answer 503 JSON', async (t) => {
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready while the bucket is there')
  const admin = s3AdminClient(env.s3)
  await admin.removeObjects(env.s3.bucket, [image.originalKey, `thumbnails/${image.id}/200.jpg`])
  await admin.removeBucket(env.s3.bucket)

  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().checks.storage, 'down')
  t.match(ready.json().message, `storage (bucket ${env.s3.bucket} does not exist`)
  expect503(t, await app.inject(thumbnail), 'thumbnail view')
  expect503(t, await app.inject({ url: original, headers: { range: 'bytes=0-9' } }), 'ranged original view')
})
