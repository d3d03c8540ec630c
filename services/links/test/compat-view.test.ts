import t from 'tap'
import { randomUUID } from 'node:crypto'
import { jpegImage } from '@imageapi/testkit'
import { buildLinksHarness, EXPIRED_BODY, NOT_FOUND_BODY, REVOKED_BODY, seedImage, userOnTier, viewPath } from './helpers/links-fixture.js'

// The links of the compat list, /api/view/{token}/: the same tokens and checks as /v/{token}, with
// the status the API we replace gives a dead link (403, where ours says 410).
const { app, env, signer, clock, passRightsCache } = await buildLinksHarness(t)
const enterprise = await userOnTier(env, 'Enterprise')
const image = await seedImage(env, enterprise, { owed: [200, 400] })
const compatPath = (token: string) => `/api/view/${token}/`

async function expiringToken(variant: 'original' | number, seconds: number) {
  const expiresAt = clock.seconds() + seconds
  const row = await env.repos.links.create({ imageId: image.id, variant: String(variant), expiresAt: new Date(expiresAt * 1000) })
  return { row, token: signer.sign({ imageId: image.id, variant, expiresAt, linkId: row.id }) }
}

t.test('a compat link opens the file inline; with or without the trailing slash; GET and HEAD', async (t) => {
  const token = signer.sign({ imageId: image.id, variant: 200 })
  for (const url of [compatPath(token), `/api/view/${token}`]) {
    const response = await app.inject({ method: 'GET', url })
    t.equal(response.statusCode, 200, url)
    t.same(response.rawPayload, image.thumbnails.get(200))
    t.equal(response.headers['content-type'], 'image/jpeg')
    t.match(response.headers['content-disposition'], /^inline; filename="/)
  }
  const head = await app.inject({ method: 'HEAD', url: compatPath(token) })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], String(image.thumbnails.get(200)!.length))
  t.equal(head.rawPayload.length, 0)
})

t.test('after expiry: 403 with their body on /api/view/, while /v/ answers 410 for the same token', async (t) => {
  const { token } = await expiringToken(400, 300)
  t.equal((await app.inject({ method: 'GET', url: compatPath(token) })).statusCode, 200, 'opens before expiry')
  clock.advance(300_000)
  const compat = await app.inject({ method: 'GET', url: compatPath(token) })
  t.equal(compat.statusCode, 403)
  t.same(compat.json(), EXPIRED_BODY)
  t.equal(compat.headers['cache-control'], 'no-store')
  const head = await app.inject({ method: 'HEAD', url: compatPath(token) })
  t.equal(head.statusCode, 403)
  const native = await app.inject({ method: 'GET', url: viewPath(token) })
  t.equal(native.statusCode, 410)
  t.same(native.json(), EXPIRED_BODY)
})

t.test('revoked (through the native API): 403 on /api/view/ too', async (t) => {
  const { row, token } = await expiringToken('original', 600)
  t.equal((await app.inject({ method: 'GET', url: compatPath(token) })).statusCode, 200)
  await env.repos.links.revokeForOwner(row.id, enterprise.id, new Date(clock.ms))
  passRightsCache()
  const response = await app.inject({ method: 'GET', url: compatPath(token) })
  t.equal(response.statusCode, 403)
  t.same(response.json(), REVOKED_BODY)
})

t.test('unknown, tampered or malformed: 404 {"detail": "Not found."}', async (t) => {
  const token = signer.sign({ imageId: image.id, variant: 200 })
  const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA')
  const unknownImage = signer.sign({ imageId: randomUUID(), variant: 200 })
  for (const url of [compatPath(tampered), compatPath(unknownImage), compatPath(image.id), '/api/view/x/', `/api/view/${'a'.repeat(600)}/`]) {
    const response = await app.inject({ method: 'GET', url })
    t.equal(response.statusCode, 404, url.slice(0, 60))
    t.same(response.json(), NOT_FOUND_BODY)
  }
})

t.test('a rendition asked for explicitly opens whatever the tier’s heights; an unrequested one the tier lacks does not', async (t) => {
  const basic = await userOnTier(env, 'Basic')
  const id = randomUUID()
  const original = await jpegImage(320, 240)
  await env.storage.putObject(`originals/${id}.jpg`, original, original.length, 'image/jpeg')
  // what a compat custom upload of a 100×100 box leaves: the tier's 200 px row and a requested 75 px one
  await env.repos.compatUploads.create({
    image: { id, owner_id: basic.id, title: 'box', format: 'jpeg', width: 320, height: 240, bytes: original.length, original_key: `originals/${id}.jpg` },
    requested: [75],
    variant: 75,
  })
  const rendition = await jpegImage(100, 75)
  await env.storage.putObject(`thumbnails/${id}/75.jpg`, rendition, rendition.length, 'image/jpeg')
  t.ok(await env.repos.thumbnails.markReady(id, 75, { width: 100, objectKey: `thumbnails/${id}/75.jpg`, bytes: rendition.length }))
  const response = await app.inject({ method: 'GET', url: compatPath(signer.sign({ imageId: id, variant: 75 })) })
  t.equal(response.statusCode, 200, 'Basic grants 200 px only; the requested 75 px still opens')
  t.same(response.rawPayload, rendition)

  const unrequested = await seedImage(env, basic, { owed: [150] })
  t.equal((await app.inject({ method: 'GET', url: compatPath(signer.sign({ imageId: unrequested.id, variant: 150 })) })).statusCode, 404, 'a height neither granted nor asked for')
})
