import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createDatabase } from '@imageapi/db'
import { createMinioStorage } from '@imageapi/storage'
import { buildLinksHarness, closedPort, getOnce, EXPIRED_BODY, NOT_FOUND_BODY, REVOKED_BODY, seedImage, userOnTier, viewPath } from './helpers/links-fixture.js'

// Expiring links: a signed expiry checked from the token alone, a row that can be revoked, cache headers bounded by the expiry.
const harness = await buildLinksHarness(t)
const { app, env, signer, clock, buildAnother, passRightsCache } = harness
const enterprise = await userOnTier(env, 'Enterprise')
const image = await seedImage(env, enterprise, { owed: [200, 400] })

/** A link row and its token, expiring `seconds` after the test clock's current second. */
async function expiringLink(variant: 'original' | number, seconds: number, imageId = image.id) {
  const expiresAt = clock.seconds() + seconds
  const row = await env.repos.links.create({ imageId, variant: String(variant), expiresAt: new Date(expiresAt * 1000) })
  const token = signer.sign({ imageId, variant, expiresAt, linkId: row.id })
  return { row, token, expiresAt, url: viewPath(token) }
}

function maxAgeOf(cacheControl: unknown): number {
  const match = /max-age=(\d+)/.exec(String(cacheControl))
  return match ? Number(match[1]) : Number.NaN
}

t.test('before expiry: 200, private caching bounded by the time left, and an Expires header', async (t) => {
  const link = await expiringLink(400, 600)
  const response = await app.inject({ method: 'GET', url: link.url })
  t.equal(response.statusCode, 200, response.body.slice(0, 200))
  t.same(response.rawPayload, image.thumbnails.get(400), 'byte-exact 400 px thumbnail')
  const cacheControl = String(response.headers['cache-control'])
  t.match(cacheControl, /\bprivate\b/, 'not for shared caches')
  t.notMatch(cacheControl, /immutable|public/)
  t.equal(maxAgeOf(cacheControl), 600, 'max-age = seconds left')
  t.equal(response.headers.expires, new Date(link.expiresAt * 1000).toUTCString(), 'Expires = the link’s expiry')

  clock.ms += 599_000
  const late = await app.inject({ method: 'GET', url: link.url })
  t.equal(late.statusCode, 200, 'one second before expiry still opens')
  t.equal(maxAgeOf(late.headers['cache-control']), 1, 'max-age shrinks with the time left')
})

t.test('max-age never outlives the link, also between whole seconds', async (t) => {
  const link = await expiringLink(200, 11) // the clock only moves forward: start over 10 s before expiry
  for (const msLeft of [10_000, 9_999, 5_500, 1_500, 999, 1]) {
    clock.ms = link.expiresAt * 1000 - msLeft
    const response = await app.inject({ method: 'GET', url: link.url })
    t.equal(response.statusCode, 200, `${msLeft} ms left: 200`)
    const maxAge = maxAgeOf(response.headers['cache-control'])
    t.ok(maxAge * 1000 <= msLeft, `${msLeft} ms left: max-age=${maxAge} s does not outlive the link`)
    t.ok(Date.parse(String(response.headers.expires)) <= link.expiresAt * 1000, `${msLeft} ms left: Expires not after the expiry`)
  }
})

t.test('an expiring original on a tier with original and expiring links', async (t) => {
  const link = await expiringLink('original', 300)
  const response = await app.inject({ method: 'GET', url: link.url })
  t.equal(response.statusCode, 200)
  t.same(response.rawPayload, image.original)
  t.match(String(response.headers['cache-control']), /\bprivate\b/)
  t.ok(maxAgeOf(response.headers['cache-control']) <= 300)
  const conditional = await app.inject({ method: 'GET', url: link.url, headers: { 'if-none-match': String(response.headers.etag) } })
  t.equal(conditional.statusCode, 304, '304 on a live expiring link')
  t.ok(maxAgeOf(conditional.headers['cache-control']) <= 300, 'and its max-age is bounded too')
})

t.test('at and after expiry (clock advanced, no sleeping): 410 with the expired message', async (t) => {
  const link = await expiringLink(400, 60)
  t.equal((await app.inject({ method: 'GET', url: link.url })).statusCode, 200)
  for (const at of [link.expiresAt * 1000, link.expiresAt * 1000 + 1, (link.expiresAt + 86_400) * 1000]) {
    clock.ms = at
    const response = await app.inject({ method: 'GET', url: link.url })
    t.equal(response.statusCode, 410, `at expiry + ${at - link.expiresAt * 1000} ms: 410`)
    t.same(response.json(), EXPIRED_BODY)
    t.equal(response.headers['cache-control'], 'no-store')
    t.notOk(response.headers.etag)
    const head = await app.inject({ method: 'HEAD', url: link.url })
    t.equal(head.statusCode, 410, 'HEAD: 410')
    t.equal(head.rawPayload.length, 0, 'HEAD: no body')
  }
})

t.test('revoked: a link whose check was not cached is 410 at once; a cached one within LINK_CHECK_CACHE_MS, and never after', async (t) => {
  const { config } = harness
  t.ok(config.LINK_CHECK_CACHE_MS > 0, `a rights check is reused for up to LINK_CHECK_CACHE_MS (${config.LINK_CHECK_CACHE_MS} ms)`)

  // a link opened just before its revocation: its rights check may be reused, but only within the bound
  const opened = await expiringLink(200, 3600)
  const checkedAt = clock.ms
  t.equal((await app.inject({ method: 'GET', url: opened.url })).statusCode, 200, 'opens before the revocation')
  t.equal(await env.repos.links.revokeForOwner(opened.row.id, enterprise.id, new Date(clock.ms)), true)
  const withinBound = await app.inject({ method: 'GET', url: opened.url })
  // allowed (the documented bound): a revocation may take up to LINK_CHECK_CACHE_MS to show
  t.ok(withinBound.statusCode === 200 || withinBound.statusCode === 410, `within the bound it may still open: ${withinBound.statusCode}`)
  if (withinBound.statusCode === 200) t.same(withinBound.rawPayload, image.thumbnails.get(200), 'and if it does, with the right bytes')
  clock.advance(config.LINK_CHECK_CACHE_MS + 1)
  t.equal(clock.ms - checkedAt, config.LINK_CHECK_CACHE_MS + 1, 'the clock is exactly 1 ms past the bound since the check was made')
  const past = await app.inject({ method: 'GET', url: opened.url })
  t.equal(past.statusCode, 410, 'past the bound: 410')
  t.same(past.json(), REVOKED_BODY)
  t.equal(past.headers['cache-control'], 'no-store')
  t.equal((await app.inject({ method: 'HEAD', url: opened.url })).statusCode, 410, 'HEAD too')

  // a link never opened before its revocation has no cached check: 410 on its first request, no clock moved
  const fresh = await expiringLink(200, 3600)
  t.equal(await env.repos.links.revokeForOwner(fresh.row.id, enterprise.id, new Date(clock.ms)), true)
  const first = await app.inject({ method: 'GET', url: fresh.url })
  t.equal(first.statusCode, 410, 'a revoked link not cached: 410 at once')
  t.same(first.json(), REVOKED_BODY)
  t.equal(first.headers['cache-control'], 'no-store')

  // once also past its expiry, it is reported as expired (decided from the token, before the row is read)
  clock.ms = opened.expiresAt * 1000
  t.same((await app.inject({ method: 'GET', url: opened.url })).json(), EXPIRED_BODY)
})

t.test('with LINK_CHECK_CACHE_MS=0 a revocation shows on the very next request', async (t) => {
  const uncached = await buildAnother({ env: { LINK_CHECK_CACHE_MS: '0' } })
  const link = await expiringLink(200, 3600)
  t.equal((await uncached.inject({ method: 'GET', url: link.url })).statusCode, 200)
  await env.repos.links.revokeForOwner(link.row.id, enterprise.id, new Date(clock.ms))
  const response = await uncached.inject({ method: 'GET', url: link.url })
  t.equal(response.statusCode, 410)
  t.same(response.json(), REVOKED_BODY)
})

t.test('a linkId that does not exist or does not match the token: 404', async (t) => {
  const expiresAt = clock.seconds() + 600
  const unknown = signer.sign({ imageId: image.id, variant: 400, expiresAt, linkId: randomUUID() })
  const response = await app.inject({ method: 'GET', url: viewPath(unknown) })
  t.equal(response.statusCode, 404, 'unknown link id')
  t.same(response.json(), NOT_FOUND_BODY)

  const row200 = await env.repos.links.create({ imageId: image.id, variant: '200', expiresAt: new Date(expiresAt * 1000) })
  const otherVariant = signer.sign({ imageId: image.id, variant: 400, expiresAt, linkId: row200.id })
  t.equal((await app.inject({ method: 'GET', url: viewPath(otherVariant) })).statusCode, 404, 'row for 200 px, token for 400 px')

  const otherImage = await seedImage(env, enterprise, { owed: [200] })
  const otherRow = await env.repos.links.create({ imageId: otherImage.id, variant: '200', expiresAt: new Date(expiresAt * 1000) })
  const crossed = signer.sign({ imageId: image.id, variant: 200, expiresAt, linkId: otherRow.id })
  t.equal((await app.inject({ method: 'GET', url: viewPath(crossed) })).statusCode, 404, 'row of another image')
})

t.test('deleting the image kills its expiring links (rows cascade): 404', async (t) => {
  const doomed = await seedImage(env, enterprise, { owed: [200] })
  const link = await expiringLink(200, 600, doomed.id)
  t.equal((await app.inject({ method: 'GET', url: link.url })).statusCode, 200)
  await env.repos.images.deleteByOwner(doomed.id, enterprise.id)
  t.equal(await env.repos.links.findById(link.row.id), undefined, 'link row gone with the image')
  passRightsCache()
  const response = await app.inject({ method: 'GET', url: link.url })
  t.equal(response.statusCode, 404)
  t.same(response.json(), NOT_FOUND_BODY)
})

t.test('expiry is checked before any database or storage call', async (t) => {
  const deadDb = createDatabase(`postgres://postgres@127.0.0.1:${await closedPort()}/nope`, { max: 2 })
  t.teardown(() => deadDb.destroy())
  const deadStorage = createMinioStorage({ ...env.s3, endPoint: `http://127.0.0.1:${await closedPort()}`, keepAlive: false, timeoutMs: 2_000 })
  const cutOff = await buildAnother({ db: deadDb, storage: deadStorage })

  const expired = await expiringLink(200, 30)
  const valid = await expiringLink(200, 3600)
  clock.ms = expired.expiresAt * 1000 + 1000

  const expiredResponse = await cutOff.inject({ method: 'GET', url: expired.url })
  t.equal(expiredResponse.statusCode, 410, 'expired token: 410 with Postgres and S3 unreachable')
  t.same(expiredResponse.json(), EXPIRED_BODY)

  const forged = expired.token.slice(0, -2) + (expired.token.endsWith('AA') ? 'BA' : 'AA')
  const forgedResponse = await cutOff.inject({ method: 'GET', url: viewPath(forged) })
  t.equal(forgedResponse.statusCode, 404, 'tampered token: 404 with Postgres unreachable')
  t.same(forgedResponse.json(), NOT_FOUND_BODY)
  t.equal((await cutOff.inject({ method: 'GET', url: '/v/garbage' })).statusCode, 404, 'garbage: 404')

  const validResponse = await cutOff.inject({ method: 'GET', url: valid.url })
  t.equal(validResponse.statusCode, 503, 'a live token needs Postgres: 503, not 500')
  t.match(validResponse.headers['content-type'], /^application\/json/)
  t.match(validResponse.json(), { statusCode: 503, error: 'Service Unavailable' })
  t.ok(validResponse.headers['retry-after'], 'Retry-After')
  t.notMatch(String(validResponse.headers['cache-control'] ?? ''), /public|immutable|max-age=[1-9]/, 'the 503 is not cacheable')

  // the same permanent token: also 503
  const permanent = signer.sign({ imageId: image.id, variant: 200 })
  t.equal((await cutOff.inject({ method: 'GET', url: viewPath(permanent) })).statusCode, 503, 'permanent link: 503')
})

t.test('redirect mode: the presigned URL never outlives the link', async (t) => {
  const redirecting = await buildAnother({ env: { LINKS_REDIRECT: 'true', LINKS_REDIRECT_MAX_SECONDS: '300' } })
  const link = await expiringLink(400, 100)
  const response = await redirecting.inject({ method: 'GET', url: link.url })
  t.equal(response.statusCode, 302)
  t.equal(response.headers['cache-control'], 'no-store')
  const lifetime = Number(new URL(String(response.headers.location)).searchParams.get('X-Amz-Expires'))
  t.ok(lifetime >= 1 && lifetime <= 100, `presigned for ${lifetime} s of the 100 s left`)
  const fetched = await getOnce(String(response.headers.location))
  t.equal(fetched.status, 200)
  t.same(fetched.body, image.thumbnails.get(400), 'the presigned URL serves the bytes')

  clock.ms = link.expiresAt * 1000 - 500
  const last = await redirecting.inject({ method: 'GET', url: link.url })
  t.equal(last.statusCode, 410, 'under a second left: nothing to presign, 410')
  t.notOk(last.headers.location)
  clock.ms = link.expiresAt * 1000
  t.same((await redirecting.inject({ method: 'GET', url: link.url })).json(), EXPIRED_BODY, 'expired: 410')
})

t.test('an expiring link close to its end: the reusable time never reaches past the expiry', async (t) => {
  const link = await expiringLink(200, 300)
  clock.ms = link.expiresAt * 1000 - 700
  const response = await app.inject({ method: 'GET', url: link.url })
  t.equal(response.statusCode, 200)
  const reusable = Number(response.headers['x-imageapi-reusable-ms'])
  t.ok(reusable > 0 && reusable <= 700, `reusable for ${reusable} ms of the 700 ms left`)
})
