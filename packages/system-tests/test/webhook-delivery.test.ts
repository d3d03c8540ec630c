import t from 'tap'
import { createWebhookQueue } from '@imageapi/queue'
import type { WebhookDelivery, WebhookEndpoint } from '@imageapi/db'
import { createTestEnvironment, createTestUser, freePort, startService, waitFor, type RunningService } from '@imageapi/testkit'
import { generateWebhookSecret } from '@imageapi/webhooks'
import { publishWebhookEvent } from '@imageapi/webhook-events'
import { startReceiver } from './support/receiver.js'

// Webhook delivery end to end: a thumbnail-worker process dispatches, a receiver process on
// loopback verifies every request with the standardwebhooks package. Nothing leaves 127.0.0.1.

/** The whole retry schedule (about a day) in about ten seconds. */
const RETRY_SCALE = '0.0001'
const DISABLE_AFTER_FAILURES = 2

const env = await createTestEnvironment(t)
/** The file's tap object: what outlives a subtest (the worker) is torn down with it. */
const file = t
const queue = createWebhookQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
t.teardown(() => queue.close())

const workerEnv = {
  ...env.env,
  WEBHOOK_ALLOW_LOOPBACK: 'true',
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_RETRY_SCALE: RETRY_SCALE,
  WEBHOOK_DISABLE_AFTER_FAILURES: String(DISABLE_AFTER_FAILURES),
  WEBHOOK_RECONCILE_AFTER_SECONDS: '1',
  RECONCILE_INTERVAL_SECONDS: '1',
  // a killed dispatcher's job is taken up again within seconds
  WORKER_LOCK_SECONDS: '2',
  WORKER_STALLED_INTERVAL_SECONDS: '1',
}

/** An endpoint of a user of its own, so each test's events reach only its receiver. */
async function createEndpoint(port: number, secret: string, events = ['image.ready']): Promise<WebhookEndpoint> {
  const owner = (await createTestUser(env.repos, 'Basic')).user
  const result = await env.repos.webhooks.create({ ownerId: owner.id, url: `http://127.0.0.1:${port}/hook`, events, description: null, secret, now: new Date() }, 100)
  if (!result.created) throw new Error('endpoint not created')
  return result.created
}

let eventNumber = 0
/** Publishes an image.ready event to the endpoint's owner. */
async function publish(endpoint: WebhookEndpoint, options: { queue?: typeof queue; enqueueTimeoutMs?: number } = {}): Promise<string> {
  const key = `image.ready:test-${++eventNumber}`
  await publishWebhookEvent(
    { repos: env.repos, queue: options.queue ?? queue, ...(options.enqueueTimeoutMs ? { enqueueTimeoutMs: options.enqueueTimeoutMs } : {}) },
    { type: 'image.ready', data: { image_id: `test-${eventNumber}` }, audience: { ownerId: endpoint.owner_id }, key, at: new Date() },
  )
  return key
}

async function deliveriesOf(endpointId: string): Promise<WebhookDelivery[]> {
  return (await env.repos.webhooks.listDeliveries(endpointId, { limit: 100 })).deliveries
}

function waitForDeliveries(endpointId: string, what: string, done: (deliveries: WebhookDelivery[]) => boolean, timeoutMs = 60_000): Promise<WebhookDelivery[]> {
  return waitFor(
    async () => {
      const deliveries = await deliveriesOf(endpointId)
      return done(deliveries) ? deliveries : undefined
    },
    { timeoutMs, intervalMs: 100, what },
  )
}

let worker: RunningService = await startService(file, 'thumbnail-worker', workerEnv)

t.test('a published event arrives once, signed by the Standard Webhooks rules (verified by standardwebhooks), and its row says delivered', async (t) => {
  const secret = generateWebhookSecret()
  const receiver = await startReceiver(t, { secret })
  t.teardown(() => receiver.stop())
  const endpoint = await createEndpoint(receiver.port, secret)
  const before = Math.floor(Date.now() / 1000)
  await publish(endpoint)
  const [delivery] = await waitForDeliveries(endpoint.id, 'the delivery to be recorded as delivered', (rows) => rows[0]?.status === 'delivered')
  t.match(delivery, { status: 'delivered', attempts: 1, last_status_code: 204, last_error: null, next_attempt_at: null })
  t.equal(receiver.received.length, 1, 'the receiver got it once')
  const [request] = receiver.received
  t.match(request, { method: 'POST', path: '/hook', contentType: /^application\/json/, id: delivery!.message_id, type: 'image.ready', verified: true })
  t.match(request!.signature, /^v1,[A-Za-z0-9+/]+=*$/, 'webhook-signature is v1,<base64>')
  const timestamp = Number(request!.timestamp)
  t.ok(timestamp >= before - 1 && timestamp <= Math.floor(Date.now() / 1000) + 1, 'webhook-timestamp is when it was sent, in seconds')
})

t.test('while the receiver is down the attempts are recorded as retries; once it is up the delivery arrives with the webhook-id of the row', async (t) => {
  const secret = generateWebhookSecret()
  const port = await freePort()
  const endpoint = await createEndpoint(port, secret)
  await publish(endpoint)
  const [failing] = await waitForDeliveries(endpoint.id, 'two failed attempts while nothing listens', (rows) => (rows[0]?.attempts ?? 0) >= 2)
  t.equal(failing!.status, 'pending', 'still pending: it will be retried')
  t.ok(failing!.next_attempt_at, 'with its next attempt scheduled')
  t.match(failing!.last_error, /ECONNREFUSED|connect|refused/i, 'the refused connection is recorded')
  t.equal(failing!.last_status_code, null)

  const receiver = await startReceiver(t, { secret, port })
  t.teardown(() => receiver.stop())
  const [delivered] = await waitForDeliveries(endpoint.id, 'the delivery once the receiver is up', (rows) => rows[0]?.status === 'delivered')
  t.ok(delivered!.attempts > failing!.attempts, `delivered on a retry (attempt ${delivered!.attempts})`)
  t.equal(delivered!.message_id, failing!.message_id, 'the row kept its webhook-id')
  t.equal(receiver.received.length, 1, 'the receiver got it once')
  t.match(receiver.received[0], { id: delivered!.message_id, verified: true, type: 'image.ready' })
})

t.test('a job Redis never got (queueing failed after the row was written) is queued by the reconciler and delivered', async (t) => {
  const secret = generateWebhookSecret()
  const receiver = await startReceiver(t, { secret })
  t.teardown(() => receiver.stop())
  const endpoint = await createEndpoint(receiver.port, secret)
  const unreachable = createWebhookQueue({ redisUrl: `redis://127.0.0.1:${await freePort()}`, prefix: env.queuePrefix })
  unreachable.on('error', () => {})
  t.teardown(() => Promise.race([unreachable.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]))
  await publish(endpoint, { queue: unreachable, enqueueTimeoutMs: 500 })
  const [delivery] = await waitForDeliveries(endpoint.id, 'the reconciler to queue and deliver it', (rows) => rows[0]?.status === 'delivered', 30_000)
  t.equal(delivery!.attempts, 1)
  t.same(receiver.received.map((line) => [line.id, line.verified]), [[delivery!.message_id, true]])
})

t.test('kill -9 of the dispatcher with deliveries in flight loses none: another worker delivers each, always with its own webhook-id', async (t) => {
  const secret = generateWebhookSecret()
  // answers after 4 s: the attempts are in flight when the worker is killed
  const receiver = await startReceiver(t, { secret, delayMs: 4000 })
  t.teardown(() => receiver.stop())
  const endpoint = await createEndpoint(receiver.port, secret)
  const EVENTS = 5
  for (let i = 0; i < EVENTS; i++) await publish(endpoint)
  await waitFor(() => new Set(receiver.received.map((line) => line.id)).size === EVENTS, { timeoutMs: 30_000, what: 'every delivery to reach the receiver' })
  t.same(
    (await deliveriesOf(endpoint.id)).map((row) => [row.status, row.attempts]),
    Array.from({ length: EVENTS }, () => ['pending', 0]),
    'the attempts are in flight, none recorded yet',
  )
  t.equal(await worker.stop('SIGKILL'), 'SIGKILL', 'the worker was killed')

  worker = await startService(file, 'thumbnail-worker', workerEnv)
  const rows = await waitForDeliveries(endpoint.id, 'every delivery to be delivered by the new worker', (found) => found.length === EVENTS && found.every((row) => row.status === 'delivered'))
  t.equal(rows.length, EVENTS, 'all delivered')
  for (const row of rows) {
    const seen = receiver.received.filter((line) => line.id === row.message_id)
    t.ok(seen.length >= 1, `${row.message_id} reached the receiver (${seen.length} times)`)
    t.ok(seen.every((line) => line.verified), 'every time with a valid signature')
  }
  t.equal(new Set(receiver.received.map((line) => line.id)).size, EVENTS, 'the receiver saw exactly the five webhook-ids, so it can de-duplicate repeats')
})

t.test(`an endpoint answering 500 gets each delivery through the whole schedule, then it is failed, and after ${DISABLE_AFTER_FAILURES} failed deliveries the endpoint is disabled with the reason`, async (t) => {
  const secret = generateWebhookSecret()
  const receiver = await startReceiver(t, { secret, status: 500 })
  t.teardown(() => receiver.stop())
  const endpoint = await createEndpoint(receiver.port, secret)
  for (let i = 0; i < DISABLE_AFTER_FAILURES; i++) await publish(endpoint)
  const rows = await waitForDeliveries(endpoint.id, 'both deliveries to fail', (found) => found.length === DISABLE_AFTER_FAILURES && found.every((row) => row.status === 'failed'), 90_000)
  for (const row of rows) {
    t.match(row, { status: 'failed', attempts: 8, last_status_code: 500, next_attempt_at: null, delivered_at: null }, 'eight attempts: the first and seven retries')
    t.match(row.last_error, /500/)
    t.equal(receiver.received.filter((line) => line.id === row.message_id && line.verified).length, 8, 'the receiver saw all eight, signed')
  }
  const disabled = await env.repos.webhooks.findById(endpoint.id)
  t.match(disabled, { enabled: false, consecutive_failures: DISABLE_AFTER_FAILURES, disabled_reason: `disabled after ${DISABLE_AFTER_FAILURES} consecutive failed deliveries` })

  const seenBefore = receiver.received.length
  await publish(endpoint)
  t.equal((await deliveriesOf(endpoint.id)).length, DISABLE_AFTER_FAILURES, 'a disabled endpoint is sent no new event')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(receiver.received.length, seenBefore)
})
