import t from 'tap'
import { createTestUser, jpegImage, multipartBody } from '@imageapi/testkit'
import { createLinkSigner, parseSigningKeys } from '@imageapi/link-tokens'
import { buildTestGateway, login } from './helpers/build-test-app.js'

let now = Date.parse('2030-01-01T00:00:00Z')
const { app, env, config } = await buildTestGateway(t, {}, { clock: () => now })
const enterprise = await createTestUser(env.repos, 'Enterprise')
const premium = await createTestUser(env.repos, 'Premium')
const other = await createTestUser(env.repos, 'Enterprise')
const tokens = {
  enterprise: (await login(app, enterprise.email, enterprise.password)).access,
  premium: (await login(app, premium.email, premium.password)).access,
  other: (await login(app, other.email, other.password)).access,
}
const auth = (token: string) => ({ authorization: `Bearer ${token}` })
const signer = createLinkSigner(parseSigningKeys(config.LINK_SIGNING_KEYS))

async function uploadReady(token: string): Promise<string> {
  const { body, headers } = multipartBody({ image: { filename: 'x.jpg', data: await jpegImage(80, 60) } })
  const response = await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, ...auth(token) } })
  const id = response.json().id as string
  // what a worker would record; the bytes are not served in this test
  await env.repos.thumbnails.markReady(id, 200, { width: 267, objectKey: `thumbnails/${id}/200.jpg`, bytes: 1 })
  return id
}

const imageId = await uploadReady(tokens.enterprise)
const premiumImage = await uploadReady(tokens.premium)

function createLink(token: string, id: string, body: unknown) {
  return app.inject({ method: 'POST', url: `/api/images/${id}/links`, payload: body as object, headers: auth(token) })
}

t.test('an Enterprise user creates expiring links to a ready thumbnail and to the original', async (t) => {
  const response = await createLink(tokens.enterprise, imageId, { seconds: 300, variant: 200 })
  t.equal(response.statusCode, 201, response.body)
  const link = response.json()
  t.equal(link.variant, 200)
  t.equal(link.expires_at, new Date(now + 300_000).toISOString())
  const token = link.url.split('/v/')[1]
  const verified = signer.verify(token, now / 1000)
  t.ok(verified.ok)
  if (verified.ok) t.same(verified.claims, { imageId, variant: 200, expiresAt: now / 1000 + 300, linkId: link.id }, 'the url carries the expiry and the revocable link id')
  t.equal(signer.verify(token, now / 1000 + 300).ok, false, 'and expires when it says')

  const original = await createLink(tokens.enterprise, imageId, { seconds: 30000, variant: 'original' })
  t.equal(original.statusCode, 201)
  t.equal(original.json().variant, 'original')
})

t.test('validation: 400 naming the field', async (t) => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ seconds: 299, variant: 200 }, 'seconds', /300/],
    [{ seconds: 30001, variant: 200 }, 'seconds', /30000/],
    [{ seconds: 300.5, variant: 200 }, 'seconds', /integer/],
    [{ seconds: 'soon', variant: 200 }, 'seconds', /integer/],
    [{ variant: 200 }, 'seconds', /seconds/],
    [{ seconds: 300, variant: 400 }, 'variant', /400/],
    [{ seconds: 300, variant: 123 }, 'variant', /123/],
    [{ seconds: 300, variant: 'thumbnail' }, 'variant', /original/],
    [{ seconds: 300 }, 'variant', /variant/],
  ]
  for (const [body, field, message] of cases) {
    const response = await createLink(tokens.enterprise, imageId, body)
    t.equal(response.statusCode, 400, JSON.stringify(body))
    t.equal(response.json().field, field, `${JSON.stringify(body)} names ${field}`)
    t.match(response.json().message, message)
  }
})

t.test('a thumbnail that is not ready cannot be linked yet', async (t) => {
  const { body, headers } = multipartBody({ image: { filename: 'y.jpg', data: await jpegImage(80, 60) } })
  const pendingId = (await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, ...auth(tokens.enterprise) } })).json().id
  const response = await createLink(tokens.enterprise, pendingId, { seconds: 300, variant: 200 })
  t.equal(response.statusCode, 400)
  t.equal(response.json().field, 'variant')
  t.match(response.json().message, /pending/)
})

t.test('a tier without expiring links gets 403; someone else’s image 404', async (t) => {
  const forbidden = await createLink(tokens.premium, premiumImage, { seconds: 300, variant: 200 })
  t.equal(forbidden.statusCode, 403)
  t.match(forbidden.json().message, /expiring links/)
  const foreign = await createLink(tokens.other, imageId, { seconds: 300, variant: 200 })
  t.equal(foreign.statusCode, 404)
  t.same(foreign.json(), (await createLink(tokens.other, '00000000-0000-4000-8000-000000000000', { seconds: 300, variant: 200 })).json())
})

t.test('live links are listed until they expire or are revoked; revoking is owner-only', async (t) => {
  const a = (await createLink(tokens.enterprise, imageId, { seconds: 600, variant: 200 })).json()
  const b = (await createLink(tokens.enterprise, imageId, { seconds: 3600, variant: 'original' })).json()
  const list = () => app.inject({ method: 'GET', url: `/api/images/${imageId}/links`, headers: auth(tokens.enterprise) })
  const ids = async () => (await list()).json().items.map((l: { id: string }) => l.id)
  t.ok((await ids()).includes(a.id))
  t.same((await list()).json().items.find((l: { id: string }) => l.id === a.id), a, 'listed exactly as created, same url')

  t.equal((await app.inject({ method: 'DELETE', url: `/api/links/${a.id}`, headers: auth(tokens.other) })).statusCode, 404, 'not the owner')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/links/${a.id}`, headers: auth(tokens.enterprise) })).statusCode, 204)
  t.notOk((await ids()).includes(a.id), 'revoked links are no longer live')
  const firstRevocation = (await env.repos.links.findById(a.id))!.revoked_at
  now += 1_000
  t.equal((await app.inject({ method: 'DELETE', url: `/api/links/${a.id}`, headers: auth(tokens.enterprise) })).statusCode, 204, 'revoking twice: 204 again (idempotent)')
  t.same((await env.repos.links.findById(a.id))!.revoked_at, firstRevocation, 'it keeps its first revocation time')
  t.equal((await app.inject({ method: 'DELETE', url: '/api/links/nope', headers: auth(tokens.enterprise) })).statusCode, 404)

  now += 601_000
  const after = await ids()
  t.ok(after.includes(b.id))
  now += 3_600_000
  t.notOk((await ids()).includes(b.id), 'expired links are no longer live')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/links/${b.id}`, headers: auth(tokens.enterprise) })).statusCode, 204, 'an expired link can be revoked too: 204, as for a live one')
  t.ok((await env.repos.links.findById(b.id))!.revoked_at, 'and is marked revoked')
  t.equal((await app.inject({ method: 'GET', url: `/api/images/${imageId}/links`, headers: auth(tokens.other) })).statusCode, 404)
})

t.test('a rendition asked for at a compat upload can get an expiring link, though the tier lacks its height', async (t) => {
  const { randomUUID } = await import('node:crypto')
  const id = randomUUID()
  await env.repos.compatUploads.create({
    image: { id, owner_id: enterprise.user.id, title: 'box', format: 'jpeg', width: 320, height: 240, bytes: 100, original_key: `originals/${id}.jpg` },
    requested: [150],
    variant: 150,
  })
  const pending = await createLink(tokens.enterprise, id, { seconds: 300, variant: 150 })
  t.equal(pending.statusCode, 400, 'not before it is ready')
  await env.repos.thumbnails.markReady(id, 150, { width: 200, objectKey: `thumbnails/${id}/150.jpg`, bytes: 1 })
  const created = await createLink(tokens.enterprise, id, { seconds: 300, variant: 150 })
  t.equal(created.statusCode, 201, created.body)
  t.equal(created.json().variant, 150)
  const other = await createLink(tokens.enterprise, id, { seconds: 300, variant: 120 })
  t.equal(other.statusCode, 400, 'a height neither granted nor asked for is still refused')
  t.equal(other.json().field, 'variant')
})
