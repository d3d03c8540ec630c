import t from 'tap'
import { createTestUser } from '@imageapi/testkit'
import type { WebhookEndpoint } from '@imageapi/db'
import { signInAdmin } from './helpers/admin.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// GET /api/admin/users/{id}/webhooks: support sees a user's endpoints with their health (never a
// secret); endpoints and deliveries are made through the repository, as the dispatcher would.
const { app, env } = await buildTestGateway(t)
const { asAdmin } = await signInAdmin(app, env.repos)
const owner = await createTestUser(env.repos, 'Basic')
const ownerToken = (await login(app, owner.email, owner.password)).access
const SECRET_MARK = 'whsec_admin-webhooks-test-'
let clock = Date.parse('2026-03-01T10:00:00.000Z')

async function endpointOf(ownerId: string, url: string, events = ['image.ready']): Promise<WebhookEndpoint> {
  const result = await env.repos.webhooks.create(
    { ownerId, url, events, description: null, secret: `${SECRET_MARK}${Math.random().toString(36).slice(2)}`, now: new Date((clock += 1000)) },
    10,
  )
  if (!result.created) throw new Error('the endpoint was not created')
  return result.created
}

async function delivery(endpointId: string, eventType = 'image.ready'): Promise<string> {
  const now = new Date((clock += 1000))
  const [inserted] = await env.repos.webhooks.insertDeliveries([
    { endpointId, messageId: `msg_${Math.random().toString(36).slice(2)}`, eventType, payload: { type: eventType, timestamp: now.toISOString(), data: {} }, now },
  ])
  return inserted!.id
}

t.test('an admin sees each of a user\'s endpoints with its health, and never a secret', async (t) => {
  const healthy = await endpointOf(owner.user.id, 'https://hooks.example.com/healthy')
  const failing = await endpointOf(owner.user.id, 'https://hooks.example.com/failing?<b>x</b>', ['image.ready', 'image.deleted'])
  const quiet = await endpointOf(owner.user.id, 'https://hooks.example.com/quiet')

  const ok = await delivery(healthy.id)
  await env.repos.webhooks.recordAttempt(ok, { outcome: 'delivered', statusCode: 204, latencyMs: 12, error: null, now: new Date((clock += 1000)) })

  const firstFailedAt = new Date((clock += 1000))
  await env.repos.webhooks.recordAttempt(await delivery(failing.id), { outcome: 'failed', statusCode: 500, latencyMs: 30, error: 'boom', now: firstFailedAt })
  const last = await delivery(failing.id, 'image.deleted')
  const recorded = await env.repos.webhooks.recordAttempt(last, {
    outcome: 'failed',
    statusCode: 503,
    latencyMs: 40,
    error: 'unavailable',
    now: new Date((clock += 1000)),
    disable: ({ consecutiveFailures }) => (consecutiveFailures >= 2 ? `disabled after ${consecutiveFailures} consecutive failed deliveries` : undefined),
  })
  t.equal(recorded?.disabledReason, 'disabled after 2 consecutive failed deliveries', 'the endpoint was disabled')

  const response = await asAdmin({ method: 'GET', url: `/api/admin/users/${owner.user.id.toUpperCase()}/webhooks` })
  t.equal(response.statusCode, 200, response.body)
  const body = response.json()
  t.same(body.user, { id: owner.user.id, email: owner.email })
  t.same(
    body.items.map((item: { endpoint: { id: string } }) => item.endpoint.id),
    [healthy.id, failing.id, quiet.id],
    'oldest first',
  )
  const [first, second, third] = body.items
  t.match(first, {
    endpoint: { id: healthy.id, url: 'https://hooks.example.com/healthy', events: ['image.ready'], enabled: true, disabled_reason: null },
    consecutive_failures: 0,
    failing_since: null,
    last_delivery: { id: ok, event_type: 'image.ready', status: 'delivered', attempts: 1, last_status_code: 204 },
  })
  t.match(second, {
    endpoint: { id: failing.id, url: 'https://hooks.example.com/failing?<b>x</b>', events: ['image.ready', 'image.deleted'], enabled: false, disabled_reason: 'disabled after 2 consecutive failed deliveries' },
    consecutive_failures: 2,
    failing_since: firstFailedAt.toISOString(),
    last_delivery: { id: last, event_type: 'image.deleted', status: 'failed', attempts: 1, last_status_code: 503 },
  })
  t.match(third, { endpoint: { id: quiet.id, enabled: true }, consecutive_failures: 0, failing_since: null, last_delivery: null }, 'no delivery yet')
  t.notOk(response.body.includes(SECRET_MARK), 'no secret anywhere in the answer')
  t.notOk(/secret"\s*:/.test(response.body.replace(/"previous_secret_expires_at"/g, '')), 'no secret field')

  // the endpoint's own health view lists its deliveries, newest first
  const health = await asAdmin({ method: 'GET', url: `/api/admin/webhooks/${failing.id}` })
  t.equal(health.statusCode, 200)
  t.same(health.json().deliveries.map((d: { id: string }) => d.id)[0], last)
})

t.test('a user without endpoints has an empty list', async (t) => {
  const other = await createTestUser(env.repos, 'Basic')
  const response = await asAdmin({ method: 'GET', url: `/api/admin/users/${other.user.id}/webhooks` })
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), { user: { id: other.user.id, email: other.email }, items: [] })
})

t.test('an unknown user is 404, phrased as the other user routes', async (t) => {
  for (const id of ['00000000-0000-4000-8000-000000000000', 'nope', '1']) {
    const response = await asAdmin({ method: 'GET', url: `/api/admin/users/${id}/webhooks` })
    t.equal(response.statusCode, 404, id)
    t.match(response.json(), { statusCode: 404, message: 'user not found' }, id)
    const user = await asAdmin({ method: 'GET', url: `/api/admin/users/${id}` })
    t.same(response.json(), user.json(), `${id}: the same answer as GET /api/admin/users/{id}`)
  }
})

t.test('a non-admin gets 403, even for their own endpoints; no token gets 401', async (t) => {
  const url = `/api/admin/users/${owner.user.id}/webhooks`
  const forbidden = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ownerToken}` } })
  t.equal(forbidden.statusCode, 403)
  t.same(forbidden.json(), { statusCode: 403, error: 'Forbidden', message: 'this needs an admin account' })
  t.equal((await app.inject({ method: 'GET', url })).statusCode, 401)
})

t.test('the route is documented under the admin tag, with descriptions', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  const operation = doc.paths['/api/admin/users/{id}/webhooks']?.get
  t.ok(operation, 'documented')
  t.same(operation?.tags, ['admin'])
  t.ok(operation?.summary && operation?.description, 'summary and description')
  for (const status of ['200', '401', '403', '404']) t.ok(operation?.responses?.[status], `documents ${status}`)
  t.notMatch(JSON.stringify(operation?.responses?.['200']), /"secret"/, 'no secret in the documented answer')
})
