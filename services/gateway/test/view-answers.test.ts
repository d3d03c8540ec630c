import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { createTestEnvironment, createTestUser, jpegImage, multipartBody, startService } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// The gateway's memory of hot view-link answers, against a real links service running as its own process.
const CHECK_CACHE_MS = 1500
const env = await createTestEnvironment(t)
const links = await startService(t, 'links', { ...env.env, LINK_CHECK_CACHE_MS: String(CHECK_CACHE_MS) })
const { app } = await buildTestGateway(t, { LINKS_URL: links.url! }, { env })
const { app: forwardOnly } = await buildTestGateway(t, { LINKS_URL: links.url!, VIEW_ANSWER_CACHE_BYTES: '0' }, { env })
const user = await createTestUser(env.repos, 'Enterprise')
const auth = { authorization: `Bearer ${(await login(app, user.email, user.password)).access}` }

/** An uploaded image whose 200 px thumbnail is ready, as a worker would leave it; returns its link path and bytes. */
async function readyThumbnail(): Promise<{ id: string; path: string; bytes: Buffer }> {
  const { body, headers } = multipartBody({ image: { filename: 'x.jpg', data: await jpegImage(120, 80) } })
  const id = (await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, ...auth } })).json().id as string
  const bytes = await jpegImage(300, 200, { quality: 70 })
  const key = `thumbnails/${id}/200.jpg`
  await env.storage.putObject(key, bytes, bytes.length, 'image/jpeg')
  await env.repos.thumbnails.markReady(id, 200, { width: 300, objectKey: key, bytes: bytes.length })
  const image = (await app.inject({ method: 'GET', url: `/api/images/${id}`, headers: auth })).json()
  const url = new URL(image.thumbnails.find((x: { height: number }) => x.height === 200).url as string)
  return { id, path: url.pathname, bytes }
}

/** How many view answers the links service itself has sent. */
async function linksServed(): Promise<number> {
  const text = await (await fetch(`${links.url}/metrics`)).text()
  return Number(/imageapi_link_requests_total\{outcome="served"\} (\d+)/.exec(text)?.[1] ?? 0)
}

t.test('a hot thumbnail is answered from the gateway: same bytes and headers, no hop, an Age header', async (t) => {
  const image = await readyThumbnail()
  const first = await app.inject({ method: 'GET', url: image.path, headers: { 'x-request-id': 'view-first' } })
  t.equal(first.statusCode, 200)
  t.same(first.rawPayload, image.bytes)
  t.notOk(first.headers['x-imageapi-reusable-ms'], 'the internal header never reaches a client')
  const servedBefore = await linksServed()
  const second = await app.inject({ method: 'GET', url: image.path, headers: { 'x-request-id': 'view-second' } })
  t.equal(second.statusCode, 200)
  t.same(second.rawPayload, image.bytes, 'byte-exact from memory')
  t.equal(await linksServed(), servedBefore, 'the links service was not asked again')
  for (const header of ['content-type', 'content-length', 'etag', 'cache-control', 'content-disposition', 'x-content-type-options']) {
    t.equal(second.headers[header], first.headers[header], `${header} as the links service sent it`)
  }
  t.equal(second.headers['x-request-id'], 'view-second', "the answer carries this request's id, not the stored one")
  t.match(second.headers.age, /^\d+$/, 'Age says how old the stored answer is')
  t.notOk(second.headers['x-imageapi-reusable-ms'])
})

t.test('ranges, revalidations and HEAD are always forwarded', async (t) => {
  const image = await readyThumbnail()
  const full = await app.inject({ method: 'GET', url: image.path })
  const before = await linksServed()
  const range = await app.inject({ method: 'GET', url: image.path, headers: { range: 'bytes=0-9' } })
  t.equal(range.statusCode, 206)
  t.same(range.rawPayload, image.bytes.subarray(0, 10))
  const revalidation = await app.inject({ method: 'GET', url: image.path, headers: { 'if-none-match': String(full.headers.etag) } })
  t.equal(revalidation.statusCode, 304, 'the links service answers the revalidation')
  const head = await app.inject({ method: 'HEAD', url: image.path })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], String(image.bytes.length))
  t.notOk(range.headers.age ?? head.headers.age, 'none of them came from memory')
  t.equal(await linksServed(), before + 1, 'the partial answer was the links service’s')
})

t.test('a deleted image stops opening within LINK_CHECK_CACHE_MS, through the gateway too', async (t) => {
  const image = await readyThumbnail()
  t.equal((await app.inject({ method: 'GET', url: image.path })).statusCode, 200)
  const deletedAt = Date.now()
  t.equal((await app.inject({ method: 'DELETE', url: `/api/images/${image.id}`, headers: auth })).statusCode, 204)
  // inside the bound the answer may still come from memory; once it has passed, it must not
  await sleep(Math.max(0, deletedAt + CHECK_CACHE_MS + 100 - Date.now()))
  const after = await app.inject({ method: 'GET', url: image.path })
  t.equal(after.statusCode, 404, `${Date.now() - deletedAt} ms after the deletion: 404`)
  t.same(after.json(), { detail: 'Not found.' })
})

t.test('an expiring link from memory: Cache-Control and Expires as the links service set them, and Age', async (t) => {
  const image = await readyThumbnail()
  const link = (await app.inject({ method: 'POST', url: `/api/images/${image.id}/links`, payload: { seconds: 300, variant: 200 }, headers: auth })).json()
  const path = new URL(link.url as string).pathname
  const first = await app.inject({ method: 'GET', url: path })
  const second = await app.inject({ method: 'GET', url: path })
  t.equal(second.statusCode, 200)
  t.match(String(second.headers['cache-control']), /^private, max-age=\d+$/)
  t.equal(second.headers.expires, first.headers.expires)
  t.ok(second.headers.age !== undefined, 'answered from memory')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/links/${link.id}`, headers: auth })).statusCode, 204)
  const revokedAt = Date.now()
  await sleep(CHECK_CACHE_MS + 100)
  const revoked = await app.inject({ method: 'GET', url: path })
  t.equal(revoked.statusCode, 410, `${Date.now() - revokedAt} ms after the revocation: 410`)
})

t.test('with VIEW_ANSWER_CACHE_BYTES=0 every view is forwarded', async (t) => {
  const image = await readyThumbnail()
  const before = await linksServed()
  for (let i = 0; i < 3; i++) {
    const response = await forwardOnly.inject({ method: 'GET', url: image.path })
    t.equal(response.statusCode, 200)
    t.same(response.rawPayload, image.bytes)
    t.notOk(response.headers.age)
  }
  t.equal(await linksServed(), before + 3)
})

t.test('the gateway counts hits and misses in /metrics', async (t) => {
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /imageapi_gateway_view_answers_total\{result="hit"\} [1-9]/)
  t.match(metrics, /imageapi_gateway_view_answers_total\{result="miss"\} [1-9]/)
  t.match(metrics, /imageapi_gateway_view_answers_total\{result="stored"\} [1-9]/)
})

t.test('answers are remembered per representation: one URL gives each client the format its Accept asks for, with Vary', async (t) => {
  const image = await readyThumbnail()
  const webp = await jpegImage(300, 200, { quality: 60 }).then((jpeg) => import('sharp').then(({ default: sharp }) => sharp(jpeg).webp().toBuffer()))
  const key = `thumbnails/${image.id}/200.webp`
  await env.storage.putObject(key, webp, webp.length, 'image/webp')
  await env.repos.thumbnails.markRenditionsReady(image.id, [{ height: 200, format: 'webp', objectKey: key, bytes: webp.length }])
  await sleep(CHECK_CACHE_MS + 100) // the links service's rights check of this link, made by readyThumbnail's listing, lapses

  const served = [] as Array<{ type: unknown; body: Buffer; vary: unknown }>
  for (const accept of ['image/webp,*/*', '*/*', 'image/webp,*/*', '*/*', 'image/avif,image/webp,*/*']) {
    const response = await app.inject({ method: 'GET', url: image.path, headers: { accept } })
    t.equal(response.statusCode, 200, accept)
    served.push({ type: response.headers['content-type'], body: response.rawPayload, vary: response.headers.vary })
  }
  t.same(
    served.map((answer) => answer.type),
    ['image/webp', 'image/jpeg', 'image/webp', 'image/jpeg', 'image/webp'],
    'each request gets its own representation, from memory or not',
  )
  t.same(served[2]!.body, webp, 'the remembered WebP answer is the WebP file')
  t.same(served[3]!.body, image.bytes, 'the remembered JPEG answer is the JPEG file')
  t.ok(served.every((answer) => answer.vary === 'Accept'), 'every answer, remembered or not, says Vary: Accept')
})
