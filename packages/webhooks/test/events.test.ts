import t from 'tap'
import Value from 'typebox/value'
import {
  ADMIN_ONLY_EVENT_TYPES,
  eventEnvelope,
  isAdminOnlyEventType,
  isWebhookEventType,
  serializeEnvelope,
  WEBHOOK_EVENT_TYPES,
  WebhookEnvelopeSchema,
  type WebhookEventType,
} from '../src/index.js'

const at = new Date('2026-03-01T12:34:56.789Z')

t.test('the event types are exactly the five documented ones', async (t) => {
  t.same([...WEBHOOK_EVENT_TYPES], ['image.ready', 'image.failed', 'image.deleted', 'backfill.finished', 'webhook.test'])
})

t.test('only backfill.finished is admin-only', async (t) => {
  t.same([...ADMIN_ONLY_EVENT_TYPES], ['backfill.finished'])
  t.same(WEBHOOK_EVENT_TYPES.filter(isAdminOnlyEventType), ['backfill.finished'])
})

t.test('isWebhookEventType accepts the listed names and nothing else', async (t) => {
  for (const type of WEBHOOK_EVENT_TYPES) t.equal(isWebhookEventType(type), true, type)
  t.equal(isWebhookEventType('image.created'), false)
  t.equal(isWebhookEventType(undefined), false)
})

t.test('eventEnvelope builds type, ISO timestamp and data, valid against the schema', async (t) => {
  const envelope = eventEnvelope('image.ready', { imageId: 'img_1' }, at)
  t.same(envelope, { type: 'image.ready', timestamp: '2026-03-01T12:34:56.789Z', data: { imageId: 'img_1' } })
  t.equal(Value.Check(WebhookEnvelopeSchema, envelope), true)
})

t.test('eventEnvelope refuses an unknown type, non-object data and an invalid date', async (t) => {
  t.throws(() => eventEnvelope('image.created' as WebhookEventType, {}, at), TypeError)
  t.throws(() => eventEnvelope('image.ready', [] as unknown as Record<string, unknown>, at), TypeError)
  t.throws(() => eventEnvelope('image.ready', {}, new Date('nope')), TypeError)
})

t.test('the schema refuses an envelope with a non-ISO timestamp or extra fields', async (t) => {
  const notIso: unknown = { type: 'image.ready', timestamp: 'yesterday', data: {} }
  const extraField: unknown = { type: 'image.ready', timestamp: at.toISOString(), data: {}, extra: 1 }
  t.equal(Value.Check(WebhookEnvelopeSchema, notIso), false)
  t.equal(Value.Check(WebhookEnvelopeSchema, extraField), false)
})

t.test('serializeEnvelope is JSON with type, timestamp and data in that order', async (t) => {
  const text = serializeEnvelope({ data: { b: 1 }, timestamp: at.toISOString(), type: 'webhook.test' })
  t.equal(text, '{"type":"webhook.test","timestamp":"2026-03-01T12:34:56.789Z","data":{"b":1}}')
  t.same(JSON.parse(text), eventEnvelope('webhook.test', { b: 1 }, at))
})
