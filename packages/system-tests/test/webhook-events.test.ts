import t, { type Test } from 'tap'
import sharp from 'sharp'
import { createTestEnvironment, createTestUser, freePort, jpegImage, photoPixels, startService, waitFor } from '@imageapi/testkit'
import { startReceiver, type ReceivedLine } from './support/receiver.js'

// Each event type end to end, from what causes it to a receiver process on loopback that verifies
// every request with the standardwebhooks package: a gateway and a worker as separate processes,
// the endpoint registered through the API. Nothing leaves 127.0.0.1.
const env = await createTestEnvironment(t)
const development = { WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_ALLOW_HTTP: 'true' }
const gateway = await startService(t, 'gateway', { ...env.env, ...development })
// the worker builds image.ready's links on the gateway's address, as the gateway does
await startService(t, 'thumbnail-worker', { ...env.env, ...development, PUBLIC_URL: gateway.url! })

async function api(token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, any> }
}

async function signIn(email: string, password: string): Promise<string> {
  const response = await fetch(`${gateway.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })
  return ((await response.json()) as { access: string }).access
}

async function upload(token: string, file: Buffer, name: string) {
  const form = new FormData()
  form.set('image', new Blob([file]), name)
  const response = await fetch(`${gateway.url}/api/images`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
  return { status: response.status, body: (await response.json()) as Record<string, any> }
}

/** A user with an endpoint (registered through the API) and its receiver process. */
async function subscriber(t: Test, tier: string, events: string[], options: { isAdmin?: boolean } = {}) {
  const user = await createTestUser(env.repos, tier, options)
  const token = await signIn(user.email, user.password)
  const port = await freePort()
  const created = await api(token, 'POST', '/api/webhooks', { url: `http://127.0.0.1:${port}/hook`, events })
  t.equal(created.status, 201, JSON.stringify(created.body))
  const receiver = await startReceiver(t, { secret: created.body.secret, port })
  const arrived = (type: string, matches: (line: ReceivedLine) => boolean = () => true) =>
    waitFor(() => receiver.received.find((line) => line.type === type && matches(line)), { what: `${type} to arrive`, timeoutMs: 60_000 })
  return { user, token, endpointId: created.body.id as string, receiver, arrived }
}

t.test('image.ready arrives signed once every thumbnail is ready, its data the image JSON as GET /api/images/{id} returns it', async (t) => {
  const { token, receiver, arrived } = await subscriber(t, 'Premium', ['image.ready', 'image.deleted'])
  const uploaded = await upload(token, await jpegImage(800, 600), 'photo.jpg')
  t.equal(uploaded.status, 201)
  const ready = await arrived('image.ready', (line) => line.data?.id === uploaded.body.id)
  t.ok(ready.verified, 'the signature verifies with the endpoint\'s secret')
  t.match(ready.id, /^msg_/, 'a webhook-id')
  t.equal(ready.contentType, 'application/json')
  const shown = await api(token, 'GET', `/api/images/${uploaded.body.id}`)
  t.same(ready.data, shown.body, 'the same JSON as the API answers, links included')
  t.same((ready.data!.thumbnails as Array<{ status: string }>).map((thumbnail) => thumbnail.status), ['ready', 'ready'])
  t.match((ready.data!.thumbnails as Array<{ url: string }>)[0]!.url, new RegExp(`^${gateway.url}/v/`), 'its links are on the gateway\'s address')

  const deleted = await api(token, 'DELETE', `/api/images/${uploaded.body.id}`)
  t.equal(deleted.status, 204)
  const gone = await arrived('image.deleted')
  t.ok(gone.verified)
  t.same(gone.data, { id: uploaded.body.id })
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  t.equal(receiver.received.filter((line) => line.type === 'image.ready').length, 1, 'image.ready came once')
})

t.test('image.failed arrives when a thumbnail fails for good, with the reasons; image.ready does not', async (t) => {
  const { token, receiver, arrived } = await subscriber(t, 'Basic', ['image.ready', 'image.failed'])
  // a PNG whose compressed pixels are garbage: it passes the upload's checks (header, end marker) and cannot be decoded
  const png = await sharp(photoPixels(400, 300), { raw: { width: 400, height: 300, channels: 3 } }).png().toBuffer()
  png.fill(0xa5, Math.floor(png.length / 2), Math.floor(png.length / 2) + 64)
  const uploaded = await upload(token, png, 'broken.png')
  t.equal(uploaded.status, 201, JSON.stringify(uploaded.body))
  const failed = await arrived('image.failed')
  t.ok(failed.verified)
  t.equal(failed.data!.id, uploaded.body.id)
  t.match((failed.data!.reasons as string[]).join(' '), /could not be decoded/)
  t.same((failed.data!.thumbnails as Array<{ status: string }>).map((thumbnail) => thumbnail.status), ['failed'])
  t.equal(receiver.received.filter((line) => line.type === 'image.ready').length, 0)
})

t.test('webhook.test arrives when asked for, and its delivery is listed as delivered with the receiver\'s status', async (t) => {
  const { token, endpointId, arrived } = await subscriber(t, 'Basic', ['image.ready'])
  const queued = await api(token, 'POST', `/api/webhooks/${endpointId}/test`)
  t.equal(queued.status, 202)
  const test = await arrived('webhook.test')
  t.ok(test.verified)
  t.equal(test.id, queued.body.message_id, 'the webhook-id the API announced')
  const listed = await waitFor(async () => {
    const page = await api(token, 'GET', `/api/webhooks/${endpointId}/deliveries`)
    const delivery = (page.body.items as Array<{ id: string; status: string; last_status_code: number }>).find((item: { id: string }) => item.id === queued.body.delivery_id)
    return delivery?.status === 'delivered' ? delivery : undefined
  }, { what: 'the delivery to be listed as delivered' })
  t.equal(listed.last_status_code, 204)
})

t.test('backfill.finished reaches admins\' endpoints once the backfill\'s last thumbnail is made', async (t) => {
  const { token, arrived } = await subscriber(t, 'Basic', ['backfill.finished'], { isAdmin: true })
  const member = await createTestUser(env.repos, 'Basic')
  const memberToken = await signIn(member.email, member.password)
  const uploaded = await upload(memberToken, await jpegImage(800, 600), 'member.jpg')
  await waitFor(async () => (await api(memberToken, 'GET', `/api/images/${uploaded.body.id}`)).body.thumbnails?.[0]?.status === 'ready', { what: 'the member\'s first thumbnail' })
  const tier = await api(token, 'POST', '/api/admin/tiers', { name: `Wider ${Date.now()}`, thumbnail_heights: [200, 300], original_link: false, expiring_links: false })
  t.equal(tier.status, 201, JSON.stringify(tier.body))
  const moved = await api(token, 'PATCH', `/api/admin/users/${member.user.id}`, { tier: tier.body.name })
  t.ok(moved.status === 200, JSON.stringify(moved.body))
  const backfillId = moved.body.backfill?.id as string
  t.ok(backfillId, 'moving the user started a backfill')
  const finished = await arrived('backfill.finished', (line) => line.data?.id === backfillId)
  t.ok(finished.verified)
  t.equal(finished.data!.pending ?? 0, 0)
  t.equal(finished.data!.done, 1, 'it made the one 300 px thumbnail the member owed')
})
