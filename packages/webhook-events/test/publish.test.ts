import t from 'tap'
import { createTestEnvironment, createTestUser, freePort } from '@imageapi/testkit'
import { createWebhookQueue, webhookJobId, type WebhookQueue } from '@imageapi/queue'
import { generateWebhookSecret } from '@imageapi/webhooks'
import type { WebhookEndpoint } from '@imageapi/db'
import { eventMessageId, publishWebhookEvent, queueWebhookDelivery } from '../src/index.js'

const env = await createTestEnvironment(t)
const queue = createWebhookQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
t.teardown(() => queue.close())

async function endpoint(ownerId: string, events: string[]): Promise<WebhookEndpoint> {
  const result = await env.repos.webhooks.create(
    { ownerId, url: 'https://receiver.example.com/hook', events, description: null, secret: generateWebhookSecret(), now: new Date() },
    100,
  )
  if (!result.created) throw new Error('endpoint not created')
  return result.created
}

async function deliveriesOf(endpointId: string) {
  return (await env.repos.webhooks.listDeliveries(endpointId, { limit: 100 })).deliveries
}

async function jobFor(queue: WebhookQueue, deliveryId: string) {
  return queue.getJob(webhookJobId(deliveryId, 0))
}

t.test('an event reaches each subscribed endpoint of its owner once, as a pending row and a queued job, and publishing it again adds nothing', async (t) => {
  const owner = (await createTestUser(env.repos, 'Basic')).user
  const other = (await createTestUser(env.repos, 'Basic')).user
  const first = await endpoint(owner.id, ['image.ready', 'image.failed'])
  const second = await endpoint(owner.id, ['image.ready'])
  const unsubscribed = await endpoint(owner.id, ['image.deleted'])
  const othersEndpoint = await endpoint(other.id, ['image.ready'])
  const at = new Date('2026-01-02T03:04:05.678Z')
  const event = { type: 'image.ready' as const, data: { image_id: 'img-1' }, audience: { ownerId: owner.id }, key: 'image.ready:img-1', at }

  t.equal(await publishWebhookEvent({ repos: env.repos, queue }, event), 2, 'two deliveries queued')

  for (const subscribed of [first, second]) {
    const [delivery, ...more] = await deliveriesOf(subscribed.id)
    t.equal(more.length, 0, 'one delivery per endpoint')
    t.match(delivery, {
      status: 'pending',
      attempts: 0,
      event_type: 'image.ready',
      message_id: eventMessageId('image.ready:img-1', subscribed.id),
      payload: { type: 'image.ready', timestamp: at.toISOString(), data: { image_id: 'img-1' } },
    })
    const job = await jobFor(queue, delivery!.id)
    t.ok(job, 'its job is queued')
    t.same(job?.data, { deliveryId: delivery!.id, attempt: 0 })
    t.equal(job?.opts.attempts, 1, 'BullMQ makes one attempt; retries follow the webhook schedule')
  }
  t.equal(eventMessageId('image.ready:img-1', first.id) === eventMessageId('image.ready:img-1', second.id), false, 'each endpoint has its own webhook-id')
  t.same(await deliveriesOf(unsubscribed.id), [], 'an endpoint not subscribed to the type gets nothing')
  t.same(await deliveriesOf(othersEndpoint.id), [], "another user's endpoint gets nothing")

  const jobsBefore = await queue.getJobCounts('waiting', 'delayed')
  t.equal(await publishWebhookEvent({ repos: env.repos, queue }, { ...event, at: new Date() }), 0, 'the same key again queues nothing')
  t.equal((await deliveriesOf(first.id)).length, 1)
  t.equal((await deliveriesOf(second.id)).length, 1)
  t.same(await queue.getJobCounts('waiting', 'delayed'), jobsBefore, 'and adds no job')
})

t.test('an admins event reaches the subscribed endpoints of active admins only', async (t) => {
  const admin = (await createTestUser(env.repos, 'Basic', { isAdmin: true })).user
  const user = (await createTestUser(env.repos, 'Basic')).user
  const adminEndpoint = await endpoint(admin.id, ['backfill.finished'])
  const adminUnsubscribed = await endpoint(admin.id, ['image.ready'])
  const userEndpoint = await endpoint(user.id, ['image.ready'])
  const count = await publishWebhookEvent(
    { repos: env.repos, queue },
    { type: 'backfill.finished', data: { backfill_id: 'b-1' }, audience: 'admins', key: 'backfill.finished:b-1', at: new Date() },
  )
  t.equal(count, 1)
  const [delivery] = await deliveriesOf(adminEndpoint.id)
  t.match(delivery, { status: 'pending', event_type: 'backfill.finished', message_id: eventMessageId('backfill.finished:b-1', adminEndpoint.id) })
  t.ok(await jobFor(queue, delivery!.id), 'its job is queued')
  t.same(await deliveriesOf(adminUnsubscribed.id), [])
  t.same(await deliveriesOf(userEndpoint.id), [])
})

t.test('an event nobody subscribed to writes nothing and queues nothing', async (t) => {
  const owner = (await createTestUser(env.repos, 'Basic')).user
  const only = await endpoint(owner.id, ['image.deleted'])
  t.equal(await publishWebhookEvent({ repos: env.repos, queue }, { type: 'image.ready', data: {}, audience: { ownerId: owner.id }, key: 'image.ready:none', at: new Date() }), 0)
  t.same(await deliveriesOf(only.id), [])
})

t.test('when Redis cannot take the jobs, the rows are still written, the count returned and nothing thrown', async (t) => {
  const unreachable = createWebhookQueue({ redisUrl: `redis://127.0.0.1:${await freePort()}`, prefix: env.queuePrefix })
  unreachable.on('error', () => {})
  // BullMQ may wait for the connection it never had: give closing a moment, no more
  t.teardown(() => Promise.race([unreachable.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]))
  const owner = (await createTestUser(env.repos, 'Basic')).user
  const target = await endpoint(owner.id, ['image.failed'])
  const count = await publishWebhookEvent(
    { repos: env.repos, queue: unreachable, enqueueTimeoutMs: 1000 },
    { type: 'image.failed', data: { image_id: 'img-2' }, audience: { ownerId: owner.id }, key: 'image.failed:img-2', at: new Date() },
  )
  t.equal(count, 1)
  const [delivery] = await deliveriesOf(target.id)
  t.match(delivery, { status: 'pending', attempts: 0 }, 'the delivery is owed; the reconciler queues it')
})

t.test('queueWebhookDelivery queues an existing delivery at its current attempt, once however often it is called', async (t) => {
  const owner = (await createTestUser(env.repos, 'Basic')).user
  const target = await endpoint(owner.id, ['webhook.test'])
  const [row] = await env.repos.webhooks.insertDeliveries([
    { endpointId: target.id, messageId: 'msg_manual', eventType: 'webhook.test', payload: { type: 'webhook.test', timestamp: new Date().toISOString(), data: {} }, now: new Date() },
  ])
  const delivery = (await env.repos.webhooks.findDelivery(target.id, row!.id))!
  await queueWebhookDelivery(queue, delivery)
  await queueWebhookDelivery(queue, delivery)
  const job = await jobFor(queue, delivery.id)
  t.same(job?.data, { deliveryId: delivery.id, attempt: 0 })
  const waiting = await queue.getWaiting()
  t.equal(waiting.filter((waitingJob) => waitingJob.data.deliveryId === delivery.id).length, 1, 'queued once')
})
