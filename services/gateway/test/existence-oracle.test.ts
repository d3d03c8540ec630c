import t from 'tap'
import type { InjectOptions } from 'fastify'
import { createTestEnvironment, createTestUser, jpegImage, multipartBody, startService } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Whether an id exists must not show: someone else's image or link answers exactly like a missing one.
// a real links service behind the gateway, so a link that must still work is opened, not just listed
const env = await createTestEnvironment(t)
const links = await startService(t, 'links', env.env)
const { app } = await buildTestGateway(t, { LINKS_URL: links.url!, LOGIN_RATE_LIMIT_PER_EMAIL: '0', LOGIN_RATE_LIMIT_PER_IP: '0' }, { env })
const owner = await createTestUser(env.repos, 'Enterprise')
const prober = await createTestUser(env.repos, 'Enterprise')
const ownerToken = (await login(app, owner.email, owner.password)).access
const proberToken = (await login(app, prober.email, prober.password)).access

const { body, headers } = multipartBody({ image: { filename: 'x.jpg', data: await jpegImage(60, 40) } })
const imageId = (await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, authorization: `Bearer ${ownerToken}` } })).json().id
// the 200 px thumbnail as a worker leaves it: its object in storage, its row ready
const thumbnailBytes = await jpegImage(300, 200, { quality: 70 })
await env.storage.putObject(`thumbnails/${imageId}/200.jpg`, thumbnailBytes, thumbnailBytes.length, 'image/jpeg')
await env.repos.thumbnails.markReady(imageId, 200, { width: 300, objectKey: `thumbnails/${imageId}/200.jpg`, bytes: thumbnailBytes.length })
const created = (await app.inject({ method: 'POST', url: `/api/images/${imageId}/links`, payload: { seconds: 600, variant: 200 }, headers: { authorization: `Bearer ${ownerToken}` } })).json()
const linkId: string = created.id
const linkPath = new URL(created.url as string).pathname
const missing = '7b3f9d1e-0000-4000-8000-000000000000'

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/**
 * Median time of `a` over median time of `b`, sampled alternately so machine noise hits both alike.
 * The bounds callers use are wide: this looks for a gross oracle (a hash skipped, a query avoided),
 * not for speed.
 */
async function timeRatio(a: () => Promise<unknown>, b: () => Promise<unknown>, samples: number): Promise<number> {
  const timesA: number[] = []
  const timesB: number[] = []
  for (let i = 0; i < samples; i++) {
    for (const [run, into] of [[a, timesA], [b, timesB]] as const) {
      const started = process.hrtime.bigint()
      await run()
      into.push(Number(process.hrtime.bigint() - started))
    }
  }
  return median(timesA) / median(timesB)
}

const routes: Array<{ name: string; request: (id: string) => InjectOptions }> = [
  { name: 'GET /api/images/:id', request: (id) => ({ method: 'GET', url: `/api/images/${id}` }) },
  { name: 'DELETE /api/images/:id', request: (id) => ({ method: 'DELETE', url: `/api/images/${id}` }) },
  { name: 'GET /api/images/:id/links', request: (id) => ({ method: 'GET', url: `/api/images/${id}/links` }) },
  { name: 'POST /api/images/:id/links', request: (id) => ({ method: 'POST', url: `/api/images/${id}/links`, payload: { seconds: 600, variant: 200 } }) },
]

t.test('someone else’s image answers like a missing one on every route, in body and in time', async (t) => {
  for (const route of routes) {
    const probe = (id: string) => app.inject({ ...route.request(id), headers: { authorization: `Bearer ${proberToken}` } })
    const theirs = await probe(imageId)
    const none = await probe(missing)
    t.equal(theirs.statusCode, 404, route.name)
    t.same(theirs.json(), none.json(), `${route.name}: same body`)
    const ratio = await timeRatio(() => probe(imageId), () => probe(missing), 31)
    t.ok(ratio > 0.2 && ratio < 5, `${route.name}: comparable time (median ratio ${ratio.toFixed(2)})`)
  }
  t.equal((await app.inject({ url: `/api/images/${imageId}`, headers: { authorization: `Bearer ${ownerToken}` } })).statusCode, 200, 'and the owner still has it')
})

t.test('someone else’s link answers like a missing one, and their revoke attempt leaves it working', async (t) => {
  const revoke = (id: string) => app.inject({ method: 'DELETE', url: `/api/links/${id}`, headers: { authorization: `Bearer ${proberToken}` } })
  const theirs = await revoke(linkId)
  const none = await revoke(missing)
  t.equal(theirs.statusCode, 404)
  t.same(theirs.json(), none.json())
  const live = (await app.inject({ url: `/api/images/${imageId}/links`, headers: { authorization: `Bearer ${ownerToken}` } })).json().items
  t.ok(live.some((l: { id: string }) => l.id === linkId), 'the link is still listed for its owner')
  // and still opens: through the gateway to the links service, the thumbnail's exact bytes
  const opened = await app.inject({ method: 'GET', url: linkPath })
  t.equal(opened.statusCode, 200, 'the link still opens')
  t.equal(opened.headers['content-type'], 'image/jpeg')
  t.same(opened.rawPayload, thumbnailBytes, 'with the thumbnail, byte for byte')
})

t.test('login: an unknown email and a wrong password look the same, in body and in time', async (t) => {
  const attempt = (email: string) => app.inject({ method: 'POST', url: '/api/token/', payload: { email, password: 'wrong-password' } })
  const known = await attempt(owner.email)
  const unknown = await attempt('nobody-here@example.com')
  t.equal(known.statusCode, 401)
  t.same(known.json(), unknown.json())
  const ratio = await timeRatio(() => attempt(owner.email), () => attempt('nobody-here@example.com'), 11)
  t.ok(ratio > 0.5 && ratio < 2, `comparable time: both check a password hash (median ratio ${ratio.toFixed(2)})`)
})
