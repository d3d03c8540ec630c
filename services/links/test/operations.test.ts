import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { createDatabase } from '@imageapi/db'
import { createMinioStorage } from '@imageapi/storage'
import { buildLinksHarness, closedPort, NOT_FOUND_BODY, ringEntry, seedImage, signerFor, userOnTier, viewPath } from './helpers/links-fixture.js'

// Operations: signing-key rotation, and Postgres or S3 going away.
// Rotation: the first key of LINK_SIGNING_KEYS signs, every key verifies; dropping a key kills the links it signed.
// Outages: a valid link gets 503 JSON with Retry-After, never a 500 and never something a cache keeps.
const NEW = ringEntry('new')
const OLD = ringEntry('old')
const { app, env, signer, buildAnother } = await buildLinksHarness(t, { ring: `${NEW},${OLD}` })
const owner = await userOnTier(env, 'Premium')
const image = await seedImage(env, owner, { owed: [200, 400] })

const oldSigner = signerFor(OLD) // what the gateway signed with before the rotation
const newSigner = signerFor(`${NEW},${OLD}`)
const oldToken = oldSigner.sign({ imageId: image.id, variant: 200 })
const newToken = newSigner.sign({ imageId: image.id, variant: 200 })
const thumbnail = viewPath(signer.sign({ imageId: image.id, variant: 200 }))
const original = viewPath(signer.sign({ imageId: image.id, variant: 'original' }))

t.test('during the rotation (ring new,old) links signed by either key open', async (t) => {
  t.match(oldToken, /^old\./, 'the old token names its key')
  t.match(newToken, /^new\./, 'new tokens are signed by the first key')
  for (const [name, token] of [['old', oldToken], ['new', newToken]] as const) {
    const response = await app.inject({ method: 'GET', url: viewPath(token) })
    t.equal(response.statusCode, 200, `${name}-key token: 200`)
    t.same(response.rawPayload, image.thumbnails.get(200), `${name}-key token: the bytes`)
  }
  const original = oldSigner.sign({ imageId: image.id, variant: 'original' })
  t.equal((await app.inject({ method: 'GET', url: viewPath(original) })).statusCode, 200, 'an old-key original link too')
})

t.test('the same link under either key has the same ETag (the validator is about the object, not the token)', async (t) => {
  const a = await app.inject({ method: 'GET', url: viewPath(oldToken) })
  const b = await app.inject({ method: 'GET', url: viewPath(newToken) })
  t.equal(a.headers.etag, b.headers.etag)
})

t.test('after the rotation (ring new only) old-key links are 404, new-key links still open', async (t) => {
  const rotated = await buildAnother({ ring: NEW })
  const old = await rotated.inject({ method: 'GET', url: viewPath(oldToken) })
  t.equal(old.statusCode, 404, 'old-key token: 404')
  t.same(old.json(), NOT_FOUND_BODY)
  t.equal((await rotated.inject({ method: 'GET', url: viewPath(newToken) })).statusCode, 200, 'new-key token: 200')
})

t.test('a token whose key id is relabelled to another key in the ring: 404', async (t) => {
  const relabelled = `new.${oldToken.slice('old.'.length)}`
  t.equal((await app.inject({ method: 'GET', url: viewPath(relabelled) })).statusCode, 404)
})

function assertUnavailable(t: Test, response: LightMyRequestResponse, what: string, method: 'GET' | 'HEAD' = 'GET'): void {
  t.equal(response.statusCode, 503, `${what}: 503 (${response.body.slice(0, 160)})`)
  t.match(response.headers['content-type'], /^application\/json/, `${what}: JSON`)
  if (method === 'HEAD') t.equal(response.rawPayload.length, 0, `${what}: no body`)
  else t.match(response.json(), { statusCode: 503, error: 'Service Unavailable' }, `${what}: body`)
  t.notMatch(response.body, /ECONNREFUSED|127\.0\.0\.1|postgres:|minio|stack/i, `${what}: no internals in the body`)
  t.ok(response.headers['retry-after'], `${what}: Retry-After`)
  t.notMatch(String(response.headers['cache-control'] ?? ''), /public|immutable|max-age=[1-9]/, `${what}: not cacheable (Cache-Control: ${response.headers['cache-control']})`)
  t.notOk(response.headers.etag, `${what}: no ETag for a body that is not the object`)
  t.notOk(response.headers['content-disposition'], `${what}: no Content-Disposition`)
}

t.test('storage down: a valid link gets 503 JSON, not 500', async (t) => {
  const deadStorage = createMinioStorage({ ...env.s3, endPoint: `http://127.0.0.1:${await closedPort()}`, keepAlive: false, timeoutMs: 2_000 })
  const app = await buildAnother({ storage: deadStorage })
  assertUnavailable(t, await app.inject({ method: 'GET', url: thumbnail }), 'thumbnail')
  assertUnavailable(t, await app.inject({ method: 'GET', url: original }), 'original')
  // the rows still decide the failures that do not need storage
  t.equal((await app.inject({ method: 'GET', url: '/v/garbage' })).statusCode, 404, 'garbage still 404')
})

t.test('storage host that does not resolve: 503', async (t) => {
  const nowhere = createMinioStorage({ ...env.s3, endPoint: 'http://imageapi-no-such-host.invalid:9000', keepAlive: false, timeoutMs: 2_000 })
  const app = await buildAnother({ storage: nowhere })
  assertUnavailable(t, await app.inject({ method: 'GET', url: thumbnail }), 'unresolvable storage host')
})

t.test('Postgres down: a valid link gets 503 JSON, not 500', async (t) => {
  const deadDb = createDatabase(`postgres://postgres@127.0.0.1:${await closedPort()}/nope`, { max: 2 })
  t.teardown(() => deadDb.destroy())
  const app = await buildAnother({ db: deadDb })
  assertUnavailable(t, await app.inject({ method: 'GET', url: thumbnail }), 'thumbnail')
  assertUnavailable(t, await app.inject({ method: 'HEAD', url: original }), 'HEAD original', 'HEAD')
})

t.test('with everything back, the same links open', async (t) => {
  const app = await buildAnother()
  const response = await app.inject({ method: 'GET', url: thumbnail })
  t.equal(response.statusCode, 200)
  t.same(response.rawPayload, image.thumbnails.get(200))
})
