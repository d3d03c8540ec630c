import { Type, type Static } from '@fastify/type-provider-typebox'

/** Events an endpoint may subscribe to; `webhook.test` is sent on request (POST /api/webhooks/{id}/test), never subscribed to. */
export const SUBSCRIBABLE_WEBHOOK_EVENTS = ['image.ready', 'image.failed', 'image.deleted', 'backfill.finished'] as const
export type SubscribableWebhookEvent = (typeof SUBSCRIBABLE_WEBHOOK_EVENTS)[number]

export const WEBHOOK_DESCRIPTION_MAX_LENGTH = 256
/** As MAX_WEBHOOK_URL_LENGTH in @imageapi/webhooks. */
export const WEBHOOK_URL_MAX_LENGTH = 2048

const EVENTS_DESCRIPTION =
  'The events to send, at least one: `image.ready` (an image\'s thumbnails are made), `image.failed` (one could not be made), `image.deleted`; admins only: `backfill.finished`. Repeats are ignored.'

const WebhookUrl = Type.String({
  minLength: 1,
  maxLength: WEBHOOK_URL_MAX_LENGTH,
  description:
    'Where events are POSTed: an `https://` URL on the public internet (no credentials, no #fragment). Addresses that are private, loopback, link-local (cloud metadata) or otherwise internal are refused, here and again on every delivery after resolving the name.',
})

const WebhookEvents = Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 16, description: EVENTS_DESCRIPTION })

const WebhookDescription = Type.Union([Type.String({ maxLength: WEBHOOK_DESCRIPTION_MAX_LENGTH }), Type.Null()], {
  description: `A note for yourself, at most ${WEBHOOK_DESCRIPTION_MAX_LENGTH} characters`,
})

export const CreateWebhookBody = Type.Object(
  {
    url: WebhookUrl,
    events: WebhookEvents,
    description: Type.Optional(WebhookDescription),
  },
  { additionalProperties: false },
)
export type CreateWebhookBody = Static<typeof CreateWebhookBody>

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(WebhookUrl),
    events: Type.Optional(WebhookEvents),
    description: Type.Optional(WebhookDescription),
    enabled: Type.Optional(
      Type.Boolean({
        description:
          '`false` stops deliveries; `true` starts them again and clears `disabled_reason` and the failure count of an endpoint that was disabled for failing',
      }),
    ),
  },
  { additionalProperties: false, description: 'The fields to change; at least one' },
)
export type UpdateWebhookBody = Static<typeof UpdateWebhookBody>

const endpointProperties = {
  id: Type.String({ format: 'uuid' }),
  url: Type.String(),
  events: Type.Array(Type.String(), { description: 'The event types it subscribed to' }),
  description: Type.Union([Type.String(), Type.Null()]),
  enabled: Type.Boolean({ description: 'Whether events are sent to it' }),
  disabled_reason: Type.Union([Type.String(), Type.Null()], {
    description: 'Why it was disabled, when that was for failing deliveries; null otherwise (also when you disabled it)',
  }),
  previous_secret_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'After a rotation, deliveries are also signed with the previous secret until then (a second `v1,` signature), so your receiver can switch over',
  }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
}

export const WebhookEndpointResource = Type.Object(endpointProperties, {
  $id: 'WebhookEndpoint',
  description: 'A webhook endpoint. Its secret is shown only when it is created and when it is rotated.',
})
export type WebhookEndpointResource = Static<typeof WebhookEndpointResource>

export const WebhookEndpointWithSecretResource = Type.Object(
  {
    ...endpointProperties,
    secret: Type.String({
      description:
        'The signing secret, `whsec_` and base64 as the Standard Webhooks specification defines: verify each request\'s `webhook-signature` with it. Shown only now: keep it.',
    }),
  },
  { $id: 'WebhookEndpointWithSecret', description: 'A webhook endpoint with its secret, shown only this once' },
)
export type WebhookEndpointWithSecretResource = Static<typeof WebhookEndpointWithSecretResource>

const deliveryProperties = {
  id: Type.String({ format: 'uuid' }),
  message_id: Type.String({ description: 'The `webhook-id` header: the same on every attempt, for your receiver to deduplicate' }),
  event_type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')], {
    description: '`pending`: queued or waiting for a retry; `delivered`: answered 2xx; `failed`: every attempt failed',
  }),
  attempts: Type.Integer({ description: 'Attempts made (since the last manual retry)' }),
  last_status_code: Type.Union([Type.Integer(), Type.Null()], { description: 'The HTTP status of the last attempt; null when none was made or no answer came' }),
  last_latency_ms: Type.Union([Type.Integer(), Type.Null()], { description: 'How long the last attempt took' }),
  last_error: Type.Union([Type.String(), Type.Null()], { description: 'What went wrong on the last attempt' }),
  next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When it is sent next, while pending' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  delivered_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
}

/** A delivery in brief, for lists of endpoints: what it was and how its last attempt went. */
export const WebhookDeliverySummary = Type.Pick(Type.Object(deliveryProperties), ['id', 'event_type', 'status', 'attempts', 'last_status_code', 'created_at', 'updated_at'])

export const WebhookDeliveryResource = Type.Object(
  {
    ...deliveryProperties,
    payload: Type.Object(
      {
        type: Type.String(),
        timestamp: Type.String({ format: 'date-time' }),
        data: Type.Record(Type.String(), Type.Unknown()),
      },
      { description: 'The body that is sent (signed anew on each attempt)' },
    ),
  },
  { $id: 'WebhookDelivery', description: 'One event sent (or to be sent) to one endpoint, with its last attempt' },
)
export type WebhookDeliveryResource = Static<typeof WebhookDeliveryResource>

export const WebhookIdParams = Type.Object({ id: Type.String({ description: 'Webhook endpoint id' }) })
export const WebhookDeliveryParams = Type.Object({
  id: Type.String({ description: 'Webhook endpoint id' }),
  deliveryId: Type.String({ description: 'Delivery id' }),
})

export const WebhookHealthResource = Type.Object(
  {
    endpoint: WebhookEndpointResource,
    owner_id: Type.String({ format: 'uuid' }),
    consecutive_failures: Type.Integer({ description: 'Deliveries that failed after all their retries since the last one delivered' }),
    failing_since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the first of those failed' }),
    deliveries: Type.Array(WebhookDeliveryResource, { description: 'The last deliveries, newest first' }),
  },
  { $id: 'WebhookHealth', description: 'A webhook endpoint\'s health, for admins: never its secret' },
)
export type WebhookHealthResource = Static<typeof WebhookHealthResource>
