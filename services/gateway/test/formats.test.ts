import t from 'tap'
import { createTestUser, jpegImage, multipartBody } from '@imageapi/testkit'
import { createLinkSigner, parseSigningKeys } from '@imageapi/link-tokens'
import { createThumbnailQueue } from '@imageapi/queue'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// The rendition formats' settings (admin), and links pinned to one format (users).
const { app, env, config } = await buildTestGateway(t)
const admin = await createTestUser(env.repos, 'Enterprise', { isAdmin: true })
const user = await createTestUser(env.repos, 'Enterprise')
const asAdmin = { authorization: `Bearer ${(await login(app, admin.email, admin.password)).access}` }
const asUser = { authorization: `Bearer ${(await login(app, user.email, user.password)).access}` }
const signer = createLinkSigner(parseSigningKeys(config.LINK_SIGNING_KEYS))

async function uploadReady(formats: Array<'webp' | 'avif'>): Promise<string> {
  const { body, headers } = multipartBody({ image: { filename: 'x.jpg', data: await jpegImage(640, 480) } })
  const id = (await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, ...asUser } })).json().id as string
  for (const height of [200, 400]) {
    await env.repos.thumbnails.markReady(id, height, { width: Math.round((height * 4) / 3), objectKey: `thumbnails/${id}/${height}.jpg`, bytes: 1 })
    await env.repos.thumbnails.markRenditionsReady(id, formats.map((format) => ({ height, format, objectKey: `thumbnails/${id}/${height}.${format}`, bytes: 1 })))
  }
  return id
}

t.test('an admin lists the rendition formats with their settings', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/api/admin/formats', headers: asAdmin })
  t.equal(response.statusCode, 200)
  t.match(response.json().formats, [
    { format: 'avif', enabled: false, quality: 64, effort: 2 },
    { format: 'webp', enabled: true, quality: 80, effort: 4 },
  ])
  t.equal((await app.inject({ method: 'GET', url: '/api/admin/formats', headers: asUser })).statusCode, 403, 'not for users')
})

t.test('bad format settings get a 4xx that says what is wrong, and change nothing', async (t) => {
  const before = (await app.inject({ method: 'GET', url: '/api/admin/formats', headers: asAdmin })).json()
  const cases: Array<[string, unknown, number, RegExp]> = [
    ['gif', { enabled: true }, 404, /no rendition format "gif"; there are webp, avif/],
    ['webp', { effort: 7 }, 400, /effort for webp must be from 0 to 6/],
    ['avif', { quality: 0 }, 400, /quality/],
    ['avif', {}, 400, /nothing to change|fewer than 1/],
    ['avif', { enabled: 'yes' }, 400, /enabled/],
    ['avif', { colour: 'red' }, 400, /nothing to change: give enabled, quality or effort/],
  ]
  for (const [format, payload, status, message] of cases) {
    const response = await app.inject({ method: 'PATCH', url: `/api/admin/formats/${format}`, headers: asAdmin, payload: payload as object })
    t.equal(response.statusCode, status, `${format} ${JSON.stringify(payload)}: ${response.body}`)
    t.match(response.json().message, message)
  }
  t.same((await app.inject({ method: 'GET', url: '/api/admin/formats', headers: asAdmin })).json(), before, 'settings unchanged')
})

t.test('turning a format on answers with the backfill that makes it for existing images, and queues their jobs', async (t) => {
  const off = await app.inject({ method: 'PATCH', url: '/api/admin/formats/avif', headers: asAdmin, payload: { enabled: false } })
  t.match(off.json(), { format: { format: 'avif', enabled: false }, backfill: null }, 'turning off owes nothing')
  const id = await uploadReady(['webp'])
  const on = await app.inject({ method: 'PATCH', url: '/api/admin/formats/avif', headers: asAdmin, payload: { enabled: true, quality: 52, effort: 3 } })
  t.equal(on.statusCode, 200, on.body)
  const { format, backfill } = on.json()
  t.match(format, { format: 'avif', enabled: true, quality: 52, effort: 3 })
  t.match(backfill, { reason: 'format_enabled', format: 'avif', finished: false })
  t.ok(backfill.images >= 1 && backfill.pending >= 2, `existing thumbnails owe AVIF (${backfill.pending} pending over ${backfill.images} images)`)
  const progress = await app.inject({ method: 'GET', url: `/api/admin/backfills/${backfill.id}`, headers: asAdmin })
  t.match(progress.json(), { id: backfill.id, total: backfill.total })

  const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
  t.teardown(() => queue.close())
  const queued = async () => (await queue.getJobs(['waiting', 'prioritized', 'delayed'])).map((job) => job.data.imageId as string)
  for (let i = 0; i < 50 && !(await queued()).includes(id); i++) await new Promise((resolve) => setTimeout(resolve, 100))
  t.ok((await queued()).includes(id), 'a job for the image is queued')
})

t.test('an expiring link pinned to a format: signed with it, listed with it, refused for a format not made or for the original', async (t) => {
  const id = await uploadReady(['webp'])
  const created = await app.inject({ method: 'POST', url: `/api/images/${id}/links`, headers: asUser, payload: { variant: 200, seconds: 600, format: 'webp' } })
  t.equal(created.statusCode, 201, created.body)
  t.equal(created.json().format, 'webp')
  const token = new URL(created.json().url as string).pathname.split('/v/')[1]!
  t.match(signer.verify(token, Date.now() / 1000), { ok: true, claims: { imageId: id, variant: 200, format: 'webp' } }, 'the format is in the signed token')
  const listed = (await app.inject({ method: 'GET', url: `/api/images/${id}/links`, headers: asUser })).json()
  const entries = Array.isArray(listed) ? listed : listed.items
  t.match(entries.find((link: { id: string }) => link.id === created.json().id), { format: 'webp', url: created.json().url }, 'listed with its format and the same URL')

  const negotiated = await app.inject({ method: 'POST', url: `/api/images/${id}/links`, headers: asUser, payload: { variant: 200, seconds: 600 } })
  t.equal(negotiated.json().format, null, 'without a format: negotiated')

  const notMade = await app.inject({ method: 'POST', url: `/api/images/${id}/links`, headers: asUser, payload: { variant: 200, seconds: 600, format: 'avif' } })
  t.equal(notMade.statusCode, 400)
  t.match(notMade.json(), { field: 'format', message: 'the 200 px thumbnail is not ready in avif; it is ready in jpeg, webp' })
  const original = await app.inject({ method: 'POST', url: `/api/images/${id}/links`, headers: asUser, payload: { variant: 'original', seconds: 600, format: 'jpeg' } })
  t.equal(original.statusCode, 400)
  t.match(original.json(), { field: 'format', message: /original is always served as uploaded/ })
  const unknown = await app.inject({ method: 'POST', url: `/api/images/${id}/links`, headers: asUser, payload: { variant: 200, seconds: 600, format: 'gif' } })
  t.equal(unknown.statusCode, 400)
})

t.test('the OpenAPI document describes formats, per-format links and the placeholder', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  const schemas = Object.values(doc.components.schemas) as Array<{ properties: Record<string, any> }>
  const image = schemas.find((schema) => schema.properties?.placeholder && schema.properties?.thumbnails)!
  t.ok(image, 'the Image schema is in the document')
  t.match(image.properties.placeholder.description, /ThumbHash/)
  const thumbnail = image.properties.thumbnails.items
  t.same(Object.keys(thumbnail.properties.formats.properties).sort(), ['avif', 'jpeg', 'png', 'webp'])
  t.match(thumbnail.properties.url.description, /Accept/)
  t.match(thumbnail.properties.rendered_height.description, /never enlarged/)
  t.ok(doc.paths['/api/admin/formats/{format}']?.patch, 'the admin route to change a format')
})
