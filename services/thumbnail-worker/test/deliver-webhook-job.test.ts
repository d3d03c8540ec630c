import t from 'tap'
import { createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createTestEnvironment, createTestUser } from '@imageapi/testkit'
import { createWebhookQueue, webhookJobId } from '@imageapi/queue'
import type { WebhookDelivery, WebhookEndpoint } from '@imageapi/db'
import { generateWebhookSecret, RETRY_DELAYS_MS, MAX_DELIVERY_ATTEMPTS } from '@imageapi/webhooks'
import { attemptWebhookDelivery, disableRule, type WebhookDeliveryDeps } from '../src/webhooks/deliver-webhook-job.js'
import { reconcileWebhooksOnce } from '../src/webhooks/webhook-reconciler.js'
import { memoryLogger } from './support.js'

// No worker runs in this file: attempts are made by calling the processor's function, and the jobs
// it queues stay on the queue to be inspected. The receiver is an HTTP server in this process, on loopback.
const env = await createTestEnvironment(t)
const queue = createWebhookQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
t.teardown(() => queue.close())
const { log } = memoryLogger()

interface Received {
  headers: IncomingHttpHeaders
  body: string
}
const received: Received[] = []
let answer = 204
const server = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') })
    response.statusCode = answer
    response.end(answer >= 300 ? 'nope' : 'ok')
  })
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise((resolve) => server.close(resolve)))
const receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`

function deps(overrides: Partial<WebhookDeliveryDeps> = {}): WebhookDeliveryDeps {
  // random 0.5: no jitter, so delays are the schedule's own
  return { repos: env.repos, queue, log, allowLoopback: true, allowHttp: true, retryScale: 1, disableAfterFailures: 20, random: () => 0.5, ...overrides }
}

async function endpointWithDelivery(options: { url?: string } = {}): Promise<{ endpoint: WebhookEndpoint; delivery: WebhookDelivery }> {
  const owner = (await createTestUser(env.repos, 'Basic')).user
  const created = await env.repos.webhooks.create({ ownerId: owner.id, url: options.url ?? receiverUrl, events: ['image.ready'], description: null, secret: generateWebhookSecret(), now: new Date() }, 10)
  const endpoint = created.created!
  const [row] = await env.repos.webhooks.insertDeliveries([
    { endpointId: endpoint.id, messageId: `msg_${endpoint.id.slice(0, 8)}`, eventType: 'image.ready', payload: { type: 'image.ready', timestamp: new Date().toISOString(), data: { image_id: 'i-1' } }, now: new Date() },
  ])
  return { endpoint, delivery: (await env.repos.webhooks.findDelivery(endpoint.id, row!.id))! }
}

async function reload(delivery: WebhookDelivery): Promise<WebhookDelivery> {
  return (await env.repos.webhooks.findDelivery(delivery.endpoint_id, delivery.id))!
}

/** The Standard Webhooks signature of a message, computed here independently of the code under test. */
function expectedSignature(secret: string, id: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

t.beforeEach(() => {
  received.length = 0
  answer = 204
})

t.test('a 2xx is recorded as delivered; while a rotated-out secret lives, the request carries one valid v1 signature per secret', async (t) => {
  const { endpoint, delivery } = await endpointWithDelivery()
  const owner = endpoint.owner_id
  const rotated = (await env.repos.webhooks.rotateSecret(endpoint.id, owner, generateWebhookSecret(), new Date()))!
  const outcome = await attemptWebhookDelivery(deps(), { deliveryId: delivery.id, attempt: 0 })
  t.same(outcome, { outcome: 'delivered', statusCode: 204 })
  t.equal(received.length, 1)
  const { headers, body } = received[0]!
  t.equal(headers['webhook-id'], delivery.message_id)
  t.match(headers['content-type'], /^application\/json/)
  t.same(JSON.parse(body), delivery.payload, 'the body is the stored envelope')
  const signatures = String(headers['webhook-signature']).split(' ')
  t.same(
    signatures,
    [rotated.secret, rotated.previous_secret!].map((secret) => expectedSignature(secret, delivery.message_id, String(headers['webhook-timestamp']), body)),
    'signed with the current secret, then the previous one',
  )
  t.match(await reload(delivery), { status: 'delivered', attempts: 1, last_status_code: 204, last_error: null, next_attempt_at: null, delivered_at: Date })
})

t.test('a failed attempt is recorded as a retry at the scheduled delay, and the next attempt is queued as its own delayed job', async (t) => {
  answer = 503
  const { delivery } = await endpointWithDelivery()
  const before = Date.now()
  const outcome = await attemptWebhookDelivery(deps(), { deliveryId: delivery.id, attempt: 0 })
  t.match(outcome, { outcome: 'retry', delayMs: RETRY_DELAYS_MS[0], error: /503/ })
  const row = await reload(delivery)
  t.match(row, { status: 'pending', attempts: 1, last_status_code: 503, last_error: 'the receiver answered 503: nope' })
  t.ok(row.next_attempt_at!.getTime() >= before + RETRY_DELAYS_MS[0]! && row.next_attempt_at!.getTime() <= Date.now() + RETRY_DELAYS_MS[0]!, 'next attempt 5 s after this one')
  const job = await queue.getJob(webhookJobId(delivery.id, 1))
  t.same(job?.data, { deliveryId: delivery.id, attempt: 1 }, 'attempt 1 is queued')
  t.equal(job?.opts.delay, RETRY_DELAYS_MS[0], 'delayed by the schedule')
})

t.test('WEBHOOK_RETRY_SCALE scales the delay of the retry and of its job', async (t) => {
  answer = 500
  const { delivery } = await endpointWithDelivery()
  const outcome = await attemptWebhookDelivery(deps({ retryScale: 0.001 }), { deliveryId: delivery.id, attempt: 0 })
  t.match(outcome, { outcome: 'retry', delayMs: RETRY_DELAYS_MS[0]! * 0.001 })
  t.equal((await queue.getJob(webhookJobId(delivery.id, 1)))?.opts.delay, RETRY_DELAYS_MS[0]! * 0.001)
})

t.test('the last attempt failing marks the delivery failed, and the endpoint is disabled with the reason once enough deliveries failed in a row', async (t) => {
  answer = 500
  const { endpoint, delivery } = await endpointWithDelivery()
  await env.database.db.updateTable('webhook_deliveries').set({ attempts: MAX_DELIVERY_ATTEMPTS - 1 }).where('id', '=', delivery.id).execute()
  const outcome = await attemptWebhookDelivery(deps({ disableAfterFailures: 1 }), { deliveryId: delivery.id, attempt: MAX_DELIVERY_ATTEMPTS - 1 })
  t.match(outcome, { outcome: 'failed', disabledReason: 'disabled after 1 consecutive failed deliveries' })
  t.match(await reload(delivery), { status: 'failed', attempts: MAX_DELIVERY_ATTEMPTS, next_attempt_at: null, last_status_code: 500 })
  t.match(await env.repos.webhooks.findById(endpoint.id), { enabled: false, consecutive_failures: 1, disabled_reason: 'disabled after 1 consecutive failed deliveries' })
  t.equal(await queue.getJob(webhookJobId(delivery.id, MAX_DELIVERY_ATTEMPTS)), undefined, 'no further attempt is queued')
})

t.test('the disable rule gives no reason below the configured count, one at it, and one after a day of failures however few', async (t) => {
  const rule = disableRule(3)
  const now = new Date()
  t.equal(rule({ consecutiveFailures: 2, firstFailureAt: new Date(now.getTime() - 60_000), now }), undefined)
  t.equal(rule({ consecutiveFailures: 3, firstFailureAt: now, now }), 'disabled after 3 consecutive failed deliveries')
  t.match(rule({ consecutiveFailures: 1, firstFailureAt: new Date(now.getTime() - 25 * 3600_000), now }), /more than 24 hours/)
})

t.test('nothing is sent for a job whose attempt was already made, a delivery no longer pending, a disabled endpoint, or a deleted delivery', async (t) => {
  const stale = await endpointWithDelivery()
  t.same(await attemptWebhookDelivery(deps(), { deliveryId: stale.delivery.id, attempt: 3 }), { outcome: 'skipped', reason: 'stale_attempt' })

  const done = await endpointWithDelivery()
  await attemptWebhookDelivery(deps(), { deliveryId: done.delivery.id, attempt: 0 })
  received.length = 0
  t.same(await attemptWebhookDelivery(deps(), { deliveryId: done.delivery.id }), { outcome: 'skipped', reason: 'not_pending' })

  const disabled = await endpointWithDelivery()
  await env.repos.webhooks.update(disabled.endpoint.id, disabled.endpoint.owner_id, { enabled: false }, new Date())
  t.same(await attemptWebhookDelivery(deps(), { deliveryId: disabled.delivery.id, attempt: 0 }), { outcome: 'skipped', reason: 'endpoint_disabled' })
  t.match(await reload(disabled.delivery), { status: 'pending', attempts: 0 }, 'it stays owed, for when the endpoint is enabled again')

  const deleted = await endpointWithDelivery()
  await env.repos.webhooks.delete(deleted.endpoint.id, deleted.endpoint.owner_id)
  t.same(await attemptWebhookDelivery(deps(), { deliveryId: deleted.delivery.id, attempt: 0 }), { outcome: 'skipped', reason: 'gone' })
  t.equal(received.length, 0, 'the receiver got nothing')
})

t.test('a loopback target is refused without WEBHOOK_ALLOW_LOOPBACK: nothing is sent and the reason is recorded with the retry', async (t) => {
  const { delivery } = await endpointWithDelivery()
  const outcome = await attemptWebhookDelivery(deps({ allowLoopback: false }), { deliveryId: delivery.id, attempt: 0 })
  t.match(outcome, { outcome: 'retry', error: /loopback/ })
  t.equal(received.length, 0)
  t.match(await reload(delivery), { status: 'pending', attempts: 1, last_status_code: null, last_error: /loopback/ })
})

t.test('the reconciler queues a pending delivery overdue beyond the grace at its current attempt, once, and leaves recent ones to their jobs', async (t) => {
  const overdue = await endpointWithDelivery()
  const recent = await endpointWithDelivery()
  await env.database.db
    .updateTable('webhook_deliveries')
    .set({ attempts: 2, next_attempt_at: new Date(Date.now() - 10 * 60_000) })
    .where('id', '=', overdue.delivery.id)
    .execute()
  const reconcilerDeps = { repos: env.repos, queue, log, overdueAfterMs: 60_000 }
  await reconcileWebhooksOnce(reconcilerDeps)
  const job = await queue.getJob(webhookJobId(overdue.delivery.id, 2))
  t.same(job?.data, { deliveryId: overdue.delivery.id, attempt: 2 }, 'queued at the attempt it is owed')
  t.equal(job?.opts.delay ?? 0, 0, 'to be sent now')
  t.equal(await queue.getJob(webhookJobId(recent.delivery.id, 0)), undefined, 'a delivery due just now is left to its own job')
  t.ok((await reload(overdue.delivery)).next_attempt_at!.getTime() > Date.now(), 'claimed: its next look is later')
  t.equal(await reconcileWebhooksOnce(reconcilerDeps), 0, 'a second pass right after queues nothing')
})
