import t from 'tap'
import type { InjectOptions } from 'fastify'
import { ConfigError } from '@imageapi/config'
import { createTestUser } from '@imageapi/testkit'
import { isWebhookSecret } from '@imageapi/webhooks'
import { buildTestGateway, login } from './helpers/build-test-app.js'
import { signInAdmin } from './helpers/admin.js'
import { loadGatewayConfig } from '../src/config.js'

// Webhook endpoints (issue 17): a user's own endpoints and their delivery records. Nothing here
// sends anything: deliveries are only queued (the dispatcher sends them), and every URL used is
// either never resolved (example.com names) or a loopback one that is only stored.
let now = Date.parse('2026-06-01T12:00:00.000Z')
const CAP = 3
const { app, env } = await buildTestGateway(t, { WEBHOOK_ENDPOINTS_PER_USER: String(CAP) }, { clock: () => now })
// the development escape hatches, on a second gateway sharing the database
const { app: devApp } = await buildTestGateway(t, { WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_ALLOW_HTTP: '1' }, { env, clock: () => now })

const owner = await createTestUser(env.repos, 'Premium')
const other = await createTestUser(env.repos, 'Premium')
const ownerToken = (await login(app, owner.email, owner.password)).access
const otherToken = (await login(app, other.email, other.password)).access
const { token: adminToken, asAdmin } = await signInAdmin(app, env.repos)

const PUBLIC_URL = 'https://hooks.example.com/imageapi'

interface Endpoint {
  id: string
  url: string
  events: string[]
  description: string | null
  enabled: boolean
  disabled_reason: string | null
  previous_secret_expires_at: string | null
  created_at: string
  updated_at: string
  secret?: string
}

interface Delivery {
  id: string
  message_id: string
  event_type: string
  status: string
  attempts: number
  last_status_code: number | null
  last_latency_ms: number | null
  last_error: string | null
  next_attempt_at: string | null
  payload: { type: string; timestamp: string; data: Record<string, unknown> }
}

function as(token: string, options: InjectOptions, gateway = app) {
  return gateway.inject({ ...options, headers: { ...options.headers, authorization: `Bearer ${token}` } })
}

async function create(body: Record<string, unknown>, token = ownerToken, gateway = app) {
  const response = await as(token, { method: 'POST', url: '/api/webhooks', payload: body }, gateway)
  return { status: response.statusCode, body: response.json() as Endpoint & { message?: string; field?: string } }
}

/** Creates an endpoint that must be accepted. */
async function created(body: Record<string, unknown> = { url: PUBLIC_URL, events: ['image.ready'] }, token = ownerToken): Promise<Endpoint> {
  const result = await create(body, token)
  if (result.status !== 201) throw new Error(`create failed: ${result.status} ${JSON.stringify(result.body)}`)
  return result.body
}

async function deleteAll(token: string) {
  const list = (await as(token, { method: 'GET', url: '/api/webhooks' })).json() as { items: Endpoint[] }
  for (const endpoint of list.items) await as(token, { method: 'DELETE', url: `/api/webhooks/${endpoint.id}` })
}

t.beforeEach(async () => {
  await deleteAll(ownerToken)
  await deleteAll(otherToken)
  await deleteAll(adminToken)
})

t.test('POST /api/webhooks answers 201 with the endpoint and a whsec_ secret that isWebhookSecret accepts', async (t) => {
  const result = await create({ url: PUBLIC_URL, events: ['image.ready', 'image.deleted'], description: 'my receiver' })
  t.equal(result.status, 201, JSON.stringify(result.body))
  t.match(result.body, { url: PUBLIC_URL, events: ['image.ready', 'image.deleted'], description: 'my receiver', enabled: true, disabled_reason: null })
  t.match(result.body.id, /^[0-9a-f-]{36}$/)
  t.equal(result.body.created_at, new Date(now).toISOString())
  t.match(result.body.secret, /^whsec_/)
  t.ok(isWebhookSecret(result.body.secret), 'a Standard Webhooks secret')
})

t.test('GET /api/webhooks and GET /api/webhooks/{id} never show the secret', async (t) => {
  const endpoint = await created()
  const one = await as(ownerToken, { method: 'GET', url: `/api/webhooks/${endpoint.id}` })
  t.equal(one.statusCode, 200)
  t.notOk('secret' in one.json(), 'no secret in GET')
  t.notOk(one.body.includes(endpoint.secret!), 'the secret appears nowhere in GET')
  const list = await as(ownerToken, { method: 'GET', url: '/api/webhooks' })
  t.equal(list.statusCode, 200)
  t.same(list.json().items.map((item: Endpoint) => item.id), [endpoint.id])
  t.notOk('secret' in list.json().items[0], 'no secret in the list')
  t.notOk(list.body.includes(endpoint.secret!), 'the secret appears nowhere in the list')
})

t.test('another user\'s endpoint answers 404 on GET, PATCH, DELETE, rotate-secret, test, deliveries and retry, and is left unchanged', async (t) => {
  const endpoint = await created()
  const test = await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` })
  const deliveryId = test.json().delivery_id as string
  const attempts: InjectOptions[] = [
    { method: 'GET', url: `/api/webhooks/${endpoint.id}` },
    { method: 'PATCH', url: `/api/webhooks/${endpoint.id}`, payload: { enabled: false } },
    { method: 'DELETE', url: `/api/webhooks/${endpoint.id}` },
    { method: 'POST', url: `/api/webhooks/${endpoint.id}/rotate-secret` },
    { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` },
    { method: 'GET', url: `/api/webhooks/${endpoint.id}/deliveries` },
    { method: 'POST', url: `/api/webhooks/${endpoint.id}/deliveries/${deliveryId}/retry` },
  ]
  for (const attempt of attempts) {
    const response = await as(otherToken, attempt)
    t.equal(response.statusCode, 404, `${attempt.method} ${attempt.url}`)
    t.match(response.json().message, /not found/)
  }
  const still = (await as(ownerToken, { method: 'GET', url: `/api/webhooks/${endpoint.id}` })).json() as Endpoint
  t.equal(still.enabled, true, 'still enabled')
  t.equal(still.previous_secret_expires_at, null, 'not rotated')
  const deliveries = (await as(ownerToken, { method: 'GET', url: `/api/webhooks/${endpoint.id}/deliveries` })).json()
  t.equal(deliveries.items.length, 1, 'only the owner\'s test delivery')
})

t.test('an id that is not a UUID answers 404 on every webhook route', async (t) => {
  for (const [method, url] of [
    ['GET', '/api/webhooks/not-a-uuid'],
    ['DELETE', '/api/webhooks/1'],
    ['POST', '/api/webhooks/abc/test'],
    ['POST', '/api/webhooks/abc/rotate-secret'],
    ['GET', '/api/webhooks/abc/deliveries'],
  ] as const) {
    t.equal((await as(ownerToken, { method, url })).statusCode, 404, `${method} ${url}`)
  }
  const endpoint = await created()
  t.equal((await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/deliveries/nope/retry` })).statusCode, 404, 'a delivery id that is not a UUID')
})

t.test('a plain http URL is refused with 400 unless WEBHOOK_ALLOW_HTTP is set', async (t) => {
  const refused = await create({ url: 'http://hooks.example.com/imageapi', events: ['image.ready'] })
  t.equal(refused.status, 400)
  t.equal(refused.body.field, 'url')
  t.match(refused.body.message, /must start with https:\/\//)
  const allowed = await create({ url: 'http://hooks.example.com/imageapi', events: ['image.ready'] }, ownerToken, devApp)
  t.equal(allowed.status, 201, 'accepted with WEBHOOK_ALLOW_HTTP=1')
})

t.test('a loopback URL is refused with 400 unless WEBHOOK_ALLOW_LOOPBACK is set', async (t) => {
  for (const url of ['https://127.0.0.1:8443/hook', 'https://localhost/hook', 'https://[::1]/hook']) {
    const refused = await create({ url, events: ['image.ready'] })
    t.equal(refused.status, 400, url)
    t.match(refused.body.message, /loopback/, `${url}: says loopback`)
  }
  const allowed = await create({ url: 'https://127.0.0.1:8443/hook', events: ['image.ready'] }, ownerToken, devApp)
  t.equal(allowed.status, 201, 'accepted with WEBHOOK_ALLOW_LOOPBACK=true')
})

t.test('the cloud metadata address, private and other internal IP literals are refused with 400, even with the development settings', async (t) => {
  for (const url of [
    'https://169.254.169.254/latest/meta-data/',
    'https://10.0.0.1/hook',
    'https://192.168.1.10/hook',
    'https://172.16.0.5/hook',
    'https://[fd00::1]/hook',
    'https://0.0.0.0/hook',
  ]) {
    for (const gateway of [app, devApp]) {
      const refused = await create({ url, events: ['image.ready'] }, ownerToken, gateway)
      t.equal(refused.status, 400, `${url} (${gateway === app ? 'default' : 'development'} settings)`)
      t.equal(refused.body.field, 'url')
      t.match(refused.body.message, /public internet/)
    }
  }
})

t.test('credentials in the URL, a fragment, or no URL at all are refused with 400 naming url', async (t) => {
  for (const url of ['https://user:pw@hooks.example.com/', 'https://hooks.example.com/#x', 'not a url', '']) {
    const refused = await create({ url, events: ['image.ready'] })
    t.equal(refused.status, 400, JSON.stringify(url))
    t.equal(refused.body.field, 'url')
  }
})

t.test('an unknown event, webhook.test, or no events answers 400 naming events', async (t) => {
  const unknown = await create({ url: PUBLIC_URL, events: ['image.ready', 'image.exploded'] })
  t.equal(unknown.status, 400)
  t.equal(unknown.body.field, 'events')
  t.match(unknown.body.message, /"image\.exploded"/)
  t.match(unknown.body.message, /image\.ready, image\.failed, image\.deleted/, 'lists the events there are')
  const test = await create({ url: PUBLIC_URL, events: ['webhook.test'] })
  t.equal(test.status, 400)
  t.match(test.body.message, /POST \/api\/webhooks\/\{id\}\/test/)
  const none = await create({ url: PUBLIC_URL, events: [] })
  t.equal(none.status, 400)
  t.equal(none.body.field, 'events')
})

t.test('repeated events are stored once', async (t) => {
  const endpoint = await created({ url: PUBLIC_URL, events: ['image.ready', 'image.ready', 'image.failed'] })
  t.same(endpoint.events, ['image.ready', 'image.failed'])
})

t.test('backfill.finished is refused with 400 for a non-admin, on create and on PATCH, and accepted for an admin', async (t) => {
  const refused = await create({ url: PUBLIC_URL, events: ['backfill.finished'] })
  t.equal(refused.status, 400)
  t.equal(refused.body.field, 'events')
  t.match(refused.body.message, /backfill\.finished can be subscribed to only by admins/)
  const endpoint = await created()
  const patched = await as(ownerToken, { method: 'PATCH', url: `/api/webhooks/${endpoint.id}`, payload: { events: ['image.ready', 'backfill.finished'] } })
  t.equal(patched.statusCode, 400, 'PATCH refused too')
  const admin = await create({ url: PUBLIC_URL, events: ['backfill.finished', 'image.ready'] }, adminToken)
  t.equal(admin.status, 201, JSON.stringify(admin.body))
  t.same(admin.body.events, ['backfill.finished', 'image.ready'])
})

t.test(`a user may have ${CAP} endpoints (WEBHOOK_ENDPOINTS_PER_USER): one more answers 409 saying so; deleting one makes room`, async (t) => {
  const endpoints = []
  for (let i = 0; i < CAP; i++) endpoints.push(await created())
  const over = await create({ url: PUBLIC_URL, events: ['image.ready'] })
  t.equal(over.status, 409)
  t.match(over.body.message, new RegExp(`you have ${CAP} webhook endpoints, the most one user may have \\(${CAP}\\)`))
  t.equal((await create({ url: PUBLIC_URL, events: ['image.ready'] }, otherToken)).status, 201, 'another user is not affected')
  t.equal((await as(ownerToken, { method: 'DELETE', url: `/api/webhooks/${endpoints[0]!.id}` })).statusCode, 204)
  t.equal((await create({ url: PUBLIC_URL, events: ['image.ready'] })).status, 201, 'room again after a delete')
})

t.test('concurrent creations never pass the cap', async (t) => {
  const results = await Promise.all(Array.from({ length: CAP + 4 }, () => create({ url: PUBLIC_URL, events: ['image.ready'] })))
  t.equal(results.filter((result) => result.status === 201).length, CAP, `${CAP} created`)
  t.equal(results.filter((result) => result.status === 409).length, 4, 'the rest 409')
})

t.test('PATCH changes only the fields sent, checks the URL again, and an empty body answers 400', async (t) => {
  const endpoint = await created({ url: PUBLIC_URL, events: ['image.ready'], description: 'first' })
  now += 1000
  const patched = await as(ownerToken, { method: 'PATCH', url: `/api/webhooks/${endpoint.id}`, payload: { url: 'https://other.example.com/h', description: null } })
  t.equal(patched.statusCode, 200, patched.body)
  t.match(patched.json(), { url: 'https://other.example.com/h', events: ['image.ready'], description: null, updated_at: new Date(now).toISOString() })
  t.notOk('secret' in patched.json(), 'no secret in the PATCH answer')
  const internal = await as(ownerToken, { method: 'PATCH', url: `/api/webhooks/${endpoint.id}`, payload: { url: 'https://169.254.169.254/' } })
  t.equal(internal.statusCode, 400)
  t.equal(internal.json().field, 'url')
  const empty = await as(ownerToken, { method: 'PATCH', url: `/api/webhooks/${endpoint.id}`, payload: {} })
  t.equal(empty.statusCode, 400)
  t.match(empty.json().message, /at least one of url, events, description, enabled/)
})

t.test('PATCH {"enabled": true} re-enables an endpoint disabled for failing: disabled_reason and the failure count are cleared', async (t) => {
  const endpoint = await created()
  await env.database.db
    .updateTable('webhook_endpoints')
    .set({ enabled: false, disabled_reason: 'disabled after 20 consecutive failed deliveries', consecutive_failures: 20, failing_since: new Date(now - 3600_000) })
    .where('id', '=', endpoint.id)
    .execute()
  const disabled = (await as(ownerToken, { method: 'GET', url: `/api/webhooks/${endpoint.id}` })).json() as Endpoint
  t.match(disabled, { enabled: false, disabled_reason: 'disabled after 20 consecutive failed deliveries' })
  const reenabled = await as(ownerToken, { method: 'PATCH', url: `/api/webhooks/${endpoint.id}`, payload: { enabled: true } })
  t.equal(reenabled.statusCode, 200)
  t.match(reenabled.json(), { enabled: true, disabled_reason: null })
  const row = await env.repos.webhooks.findById(endpoint.id)
  t.equal(row?.consecutive_failures, 0)
  t.equal(row?.failing_since, null)
})

t.test('rotate-secret answers a new whsec_ secret; the old one is kept as previous for 24 hours', async (t) => {
  const endpoint = await created()
  now += 5000
  const rotated = await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/rotate-secret` })
  t.equal(rotated.statusCode, 200)
  const body = rotated.json() as Endpoint
  t.ok(isWebhookSecret(body.secret), 'a Standard Webhooks secret')
  t.not(body.secret, endpoint.secret, 'a new one')
  t.equal(body.previous_secret_expires_at, new Date(now + 24 * 3600_000).toISOString())
  const row = await env.repos.webhooks.findById(endpoint.id)
  t.equal(row?.secret, body.secret, 'stored as the current secret')
  t.equal(row?.previous_secret, endpoint.secret, 'the old one kept as previous')
  const get = await as(ownerToken, { method: 'GET', url: `/api/webhooks/${endpoint.id}` })
  t.notOk(get.body.includes(body.secret!) || get.body.includes(endpoint.secret!), 'GET shows neither secret')
})

t.test('POST /api/webhooks/{id}/test answers 202 with a delivery id; the pending webhook.test delivery shows in the deliveries list', async (t) => {
  const endpoint = await created()
  const test = await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` })
  t.equal(test.statusCode, 202, test.body)
  const { delivery_id: deliveryId, message_id: messageId, status } = test.json()
  t.equal(status, 'pending')
  t.match(messageId, /^msg_[A-Za-z0-9_-]+$/)
  const list = await as(ownerToken, { method: 'GET', url: `/api/webhooks/${endpoint.id}/deliveries` })
  t.equal(list.statusCode, 200)
  const [delivery] = list.json().items as Delivery[]
  t.match(delivery, { id: deliveryId, message_id: messageId, event_type: 'webhook.test', status: 'pending', attempts: 0, last_status_code: null, last_error: null })
  t.equal(delivery?.next_attempt_at, new Date(now).toISOString(), 'due now')
  t.match(delivery?.payload, { type: 'webhook.test', timestamp: new Date(now).toISOString(), data: { endpoint_id: endpoint.id } })
  t.equal(list.json().next_cursor, null)
})

t.test('a disabled endpoint answers 409 to test, saying to enable it first', async (t) => {
  const endpoint = await created()
  await as(ownerToken, { method: 'PATCH', url: `/api/webhooks/${endpoint.id}`, payload: { enabled: false } })
  const test = await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` })
  t.equal(test.statusCode, 409)
  t.match(test.json().message, /disabled.*enable it first/)
})

t.test('deliveries are listed newest first, a keyset page at a time, without repeats or gaps; a forged cursor answers 400', async (t) => {
  const endpoint = await created()
  const ids: string[] = []
  for (let i = 0; i < 5; i++) {
    now += i === 4 ? 0 : 1000 // the two newest share their creation time: the id breaks the tie
    ids.push((await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` })).json().delivery_id)
  }
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const url: string = `/api/webhooks/${endpoint.id}/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`
    const page = (await as(ownerToken, { method: 'GET', url })).json() as { items: Delivery[]; next_cursor: string | null }
    t.ok(page.items.length <= 2)
    seen.push(...page.items.map((item) => item.id))
    cursor = page.next_cursor
    pages++
  } while (cursor && pages < 10)
  t.equal(pages, 3, 'three pages of at most 2')
  t.same([...seen].sort(), [...ids].sort(), 'every delivery once')
  t.same(seen.slice(0, 2).sort(), ids.slice(3).sort(), 'the two newest (same time) first')
  t.same(seen.slice(2), [ids[2], ids[1], ids[0]], 'then newest first')
  const forged = await as(ownerToken, { method: 'GET', url: `/api/webhooks/${endpoint.id}/deliveries?cursor=${Buffer.from('d:nope').toString('base64url')}` })
  t.equal(forged.statusCode, 400)
  t.equal(forged.json().field, 'cursor')
})

t.test('retry queues a failed delivery again: pending, due now, attempts back to 0; a pending one answers 409', async (t) => {
  const endpoint = await created()
  const deliveryId = (await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` })).json().delivery_id as string
  const pending = await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/deliveries/${deliveryId}/retry` })
  t.equal(pending.statusCode, 409, 'still pending: already queued')
  const recorded = await env.repos.webhooks.recordAttempt(deliveryId, { outcome: 'failed', statusCode: 500, latencyMs: 42, error: 'the receiver answered 500', now: new Date(now) })
  t.equal(recorded?.delivery.status, 'failed')
  t.equal(recorded?.endpoint.consecutive_failures, 1, 'the endpoint\'s failure run grew')
  const failed = (await as(ownerToken, { method: 'GET', url: `/api/webhooks/${endpoint.id}/deliveries` })).json().items[0] as Delivery
  t.match(failed, { status: 'failed', attempts: 1, last_status_code: 500, last_latency_ms: 42, last_error: 'the receiver answered 500', next_attempt_at: null })
  now += 60_000
  const retried = await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/deliveries/${deliveryId}/retry` })
  t.equal(retried.statusCode, 202, retried.body)
  t.match(retried.json(), { id: deliveryId, message_id: failed.message_id, status: 'pending', attempts: 0, next_attempt_at: new Date(now).toISOString() })
  const unknown = await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/deliveries/00000000-0000-4000-8000-000000000000/retry` })
  t.equal(unknown.statusCode, 404)
  t.match(unknown.json().message, /delivery not found/)
})

t.test('recordAttempt disables the endpoint with the reason the disable rule gives, and a delivered attempt ends the failure run', async (t) => {
  const endpoint = await created()
  const first = (await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` })).json().delivery_id as string
  const delivered = await env.repos.webhooks.recordAttempt(first, { outcome: 'delivered', statusCode: 204, latencyMs: 10, error: null, now: new Date(now) })
  t.match(delivered, { delivery: { status: 'delivered', next_attempt_at: null }, endpoint: { consecutive_failures: 0, failing_since: null } })
  t.equal(delivered?.disabledReason, undefined)
  const second = (await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` })).json().delivery_id as string
  const retry = await env.repos.webhooks.recordAttempt(second, { outcome: 'retry', statusCode: null, latencyMs: 10_000, error: 'timeout', nextAttemptAt: new Date(now + 5000), now: new Date(now) })
  t.match(retry?.delivery, { status: 'pending', attempts: 1, next_attempt_at: new Date(now + 5000) })
  t.equal(retry?.endpoint.consecutive_failures, 0, 'a retry does not count against the endpoint')
  const failed = await env.repos.webhooks.recordAttempt(second, {
    outcome: 'failed',
    statusCode: null,
    latencyMs: 10_000,
    error: 'x'.repeat(5000),
    now: new Date(now),
    disable: ({ consecutiveFailures }) => (consecutiveFailures >= 1 ? `disabled after ${consecutiveFailures} consecutive failed deliveries` : undefined),
  })
  t.equal(failed?.delivery.last_error?.length, 1024, 'the error is kept to 1024 characters')
  t.equal(failed?.disabledReason, 'disabled after 1 consecutive failed deliveries')
  const shown = (await as(ownerToken, { method: 'GET', url: `/api/webhooks/${endpoint.id}` })).json() as Endpoint
  t.match(shown, { enabled: false, disabled_reason: 'disabled after 1 consecutive failed deliveries' })
})

t.test('GET /api/admin/webhooks/{id}: an admin sees any user\'s endpoint health without its secret; a non-admin gets 403, an unknown id 404', async (t) => {
  const endpoint = await created()
  const deliveryId = (await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` })).json().delivery_id as string
  await env.repos.webhooks.recordAttempt(deliveryId, { outcome: 'failed', statusCode: 502, latencyMs: 7, error: 'bad gateway', now: new Date(now) })
  const health = await asAdmin({ method: 'GET', url: `/api/admin/webhooks/${endpoint.id}` })
  t.equal(health.statusCode, 200, health.body)
  t.match(health.json(), {
    endpoint: { id: endpoint.id, enabled: true, disabled_reason: null },
    owner_id: owner.user.id,
    consecutive_failures: 1,
    failing_since: new Date(now).toISOString(),
    deliveries: [{ id: deliveryId, status: 'failed', last_status_code: 502, last_error: 'bad gateway' }],
  })
  t.notOk(health.body.includes(endpoint.secret!), 'no secret')
  t.notOk('secret' in health.json().endpoint, 'no secret field')
  const forOwner = await as(ownerToken, { method: 'GET', url: `/api/admin/webhooks/${endpoint.id}` })
  t.equal(forOwner.statusCode, 403, 'a non-admin, even the owner: 403 as every admin route')
  t.equal((await asAdmin({ method: 'GET', url: '/api/admin/webhooks/00000000-0000-4000-8000-000000000000' })).statusCode, 404)
  t.equal((await asAdmin({ method: 'GET', url: '/api/admin/webhooks/nope' })).statusCode, 404)
})

t.test('deleting an endpoint deletes its deliveries; deleting it again answers 404', async (t) => {
  const endpoint = await created()
  await as(ownerToken, { method: 'POST', url: `/api/webhooks/${endpoint.id}/test` })
  t.equal((await as(ownerToken, { method: 'DELETE', url: `/api/webhooks/${endpoint.id}` })).statusCode, 204)
  const { n } = await env.database.db
    .selectFrom('webhook_deliveries')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('endpoint_id', '=', endpoint.id)
    .executeTakeFirstOrThrow()
  t.equal(Number(n), 0)
  t.equal((await as(ownerToken, { method: 'DELETE', url: `/api/webhooks/${endpoint.id}` })).statusCode, 404)
})

t.test('without a token every webhook route answers 401', async (t) => {
  t.equal((await app.inject({ method: 'GET', url: '/api/webhooks' })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/api/webhooks', payload: { url: PUBLIC_URL, events: ['image.ready'] } })).statusCode, 401)
})

t.test('NODE_ENV=production refuses WEBHOOK_ALLOW_LOOPBACK and WEBHOOK_ALLOW_HTTP at config load, naming each', async (t) => {
  const production = {
    ...env.env,
    NODE_ENV: 'production',
    JWT_SECRET: 'a-production-jwt-secret-of-at-least-32-characters',
    LINK_SIGNING_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64url')}`,
    PUBLIC_URL: 'https://img.example.com',
    METRICS_TOKEN: 'metrics-token-for-this-test-0123456789',
  }
  t.doesNotThrow(() => loadGatewayConfig(production), 'production without them loads')
  for (const variable of ['WEBHOOK_ALLOW_LOOPBACK', 'WEBHOOK_ALLOW_HTTP']) {
    let error: unknown
    try {
      loadGatewayConfig({ ...production, [variable]: '1' })
    } catch (caught) {
      error = caught
    }
    t.ok(error instanceof ConfigError, `${variable}=1: a configuration error`)
    t.match((error as Error | undefined)?.message, new RegExp(`${variable}: must not be set when NODE_ENV=production`), `names ${variable}`)
  }
  t.equal(loadGatewayConfig({ ...env.env, NODE_ENV: 'test' }).WEBHOOK_ALLOW_LOOPBACK, false, 'off by default')
})

t.test('the OpenAPI document lists every webhook route under the webhooks tag with a summary, and the admin health route under admin', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  const expected: Record<string, string[]> = {
    '/api/webhooks': ['get', 'post'],
    '/api/webhooks/{id}': ['delete', 'get', 'patch'],
    '/api/webhooks/{id}/rotate-secret': ['post'],
    '/api/webhooks/{id}/test': ['post'],
    '/api/webhooks/{id}/deliveries': ['get'],
    '/api/webhooks/{id}/deliveries/{deliveryId}/retry': ['post'],
  }
  for (const [path, methods] of Object.entries(expected)) {
    const operations = doc.paths[path] ?? {}
    t.same(Object.keys(operations).filter((key) => ['get', 'post', 'put', 'patch', 'delete'].includes(key)).sort(), methods, `${path}: ${methods.join(', ')}`)
    for (const method of methods) {
      t.same(operations[method]?.tags, ['webhooks'], `${method.toUpperCase()} ${path}: tagged webhooks`)
      t.ok(operations[method]?.summary, `${method.toUpperCase()} ${path}: a summary`)
      t.same(operations[method]?.security, [{ bearerAuth: [] }], `${method.toUpperCase()} ${path}: a bearer token`)
    }
  }
  const health = doc.paths['/api/admin/webhooks/{id}']?.get
  t.same(health?.tags, ['admin'])
  t.ok(health?.responses?.['403'], 'documents 403')
  const createdSchema = JSON.stringify(doc.paths['/api/webhooks'].post.responses['201'])
  t.match(createdSchema, /secret/, 'the create answer documents the secret')
})
