import type { FastifyInstance } from 'fastify'
import type { UserWithTier, WebhookDelivery, WebhookEndpoint } from '@imageapi/db'
import { checkWebhookUrl, eventEnvelope, generateWebhookSecret, isAdminOnlyEventType, webhookMessageId, type WebhookSafety } from '@imageapi/webhooks'
import { ApiError } from '../plugins/app/errors.js'
import { UUID } from '../schemas/ids.js'
import {
  SUBSCRIBABLE_WEBHOOK_EVENTS,
  type CreateWebhookBody,
  type SubscribableWebhookEvent,
  type UpdateWebhookBody,
  type WebhookDeliveryResource,
  type WebhookEndpointResource,
  type WebhookEndpointWithSecretResource,
} from '../schemas/webhooks.js'

/**
 * The rules of webhook endpoints (issue 17): what a user may register (a public https URL, known
 * events, admin-only events for admins), how many, and what is shown (the secret only when made).
 * Sending is the dispatcher's: these routes only queue deliveries.
 */
export interface WebhookEndpointSettings extends Required<WebhookSafety> {
  /** Endpoints one user may have. */
  maxPerUser: number
}

/** Someone else's endpoint and no endpoint at all look the same from outside. */
export function webhookNotFound(): ApiError {
  return new ApiError(404, 'webhook endpoint not found')
}

export function deliveryNotFound(): ApiError {
  return new ApiError(404, 'delivery not found')
}

function disabledEndpoint(): ApiError {
  return new ApiError(409, 'the endpoint is disabled, so nothing is sent to it: enable it first (PATCH /api/webhooks/{id} with {"enabled": true})')
}

/** A path id as the repositories take it: a UUID, lower-cased; anything else is no endpoint (404). */
export function parseWebhookId(id: string, notFound: () => ApiError = webhookNotFound): string {
  if (!UUID.test(id)) throw notFound()
  return id.toLowerCase()
}

/** The caller's endpoint, or 404. */
export async function findOwnEndpoint(app: FastifyInstance, id: string, account: UserWithTier): Promise<WebhookEndpoint> {
  const endpoint = await app.repos.webhooks.findByOwner(parseWebhookId(id), account.id)
  if (!endpoint) throw webhookNotFound()
  return endpoint
}

/** The URL as stored (normalised by the URL parser), or 400 saying what is wrong with it. */
export function validateWebhookUrl(url: string, settings: WebhookSafety): string {
  const check = checkWebhookUrl(url, settings)
  if (!check.ok) throw new ApiError(400, `url is not accepted: ${check.reason}`, 'url')
  return check.url.href
}

/** The events, each once, in the order given; 400 for unknown ones and for admin-only ones asked by others. */
export function validateWebhookEvents(events: string[], account: UserWithTier): SubscribableWebhookEvent[] {
  const known = SUBSCRIBABLE_WEBHOOK_EVENTS as readonly string[]
  const unknown = events.filter((event) => !known.includes(event))
  if (unknown.length > 0) {
    const allowed = SUBSCRIBABLE_WEBHOOK_EVENTS.filter((event) => account.is_admin || !isAdminOnlyEventType(event))
    const names = unknown.map((event) => JSON.stringify(event.slice(0, 64))).join(', ')
    const test = unknown.includes('webhook.test') ? ' (webhook.test is not subscribed to: POST /api/webhooks/{id}/test sends one)' : ''
    throw new ApiError(400, `events has unknown event types ${names}${test}; the events are ${allowed.join(', ')}`, 'events')
  }
  const unique = [...new Set(events)] as SubscribableWebhookEvent[]
  if (!account.is_admin) {
    const adminOnly = unique.filter((event) => isAdminOnlyEventType(event))
    if (adminOnly.length > 0) throw new ApiError(400, `events: ${adminOnly.join(', ')} can be subscribed to only by admins`, 'events')
  }
  return unique
}

function validateDescription(description: string | null | undefined): string | null {
  const trimmed = description?.trim()
  return trimmed ? trimmed : null
}

export function toWebhookEndpointResource(endpoint: WebhookEndpoint): WebhookEndpointResource {
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    description: endpoint.description,
    enabled: endpoint.enabled,
    disabled_reason: endpoint.disabled_reason,
    previous_secret_expires_at: endpoint.previous_secret_expires_at?.toISOString() ?? null,
    created_at: endpoint.created_at.toISOString(),
    updated_at: endpoint.updated_at.toISOString(),
  }
}

function withSecret(endpoint: WebhookEndpoint): WebhookEndpointWithSecretResource {
  return { ...toWebhookEndpointResource(endpoint), secret: endpoint.secret }
}

export function toWebhookDeliveryResource(delivery: WebhookDelivery): WebhookDeliveryResource {
  return {
    id: delivery.id,
    message_id: delivery.message_id,
    event_type: delivery.event_type,
    status: delivery.status,
    attempts: delivery.attempts,
    last_status_code: delivery.last_status_code,
    last_latency_ms: delivery.last_latency_ms,
    last_error: delivery.last_error,
    next_attempt_at: delivery.next_attempt_at?.toISOString() ?? null,
    created_at: delivery.created_at.toISOString(),
    updated_at: delivery.updated_at.toISOString(),
    delivered_at: delivery.delivered_at?.toISOString() ?? null,
    payload: delivery.payload as WebhookDeliveryResource['payload'],
  }
}

export async function createWebhookEndpoint(
  app: FastifyInstance,
  account: UserWithTier,
  body: CreateWebhookBody,
  settings: WebhookEndpointSettings,
): Promise<WebhookEndpointWithSecretResource> {
  const url = validateWebhookUrl(body.url, settings)
  const events = validateWebhookEvents(body.events, account)
  const result = await app.repos.webhooks.create(
    { ownerId: account.id, url, events, description: validateDescription(body.description), secret: generateWebhookSecret(), now: new Date(app.clock()) },
    settings.maxPerUser,
  )
  if (!result.created) {
    throw new ApiError(
      409,
      `you have ${result.count} webhook endpoints, the most one user may have (${settings.maxPerUser}); delete one (DELETE /api/webhooks/{id}) or change one (PATCH /api/webhooks/{id}) instead`,
    )
  }
  return withSecret(result.created)
}

export async function updateWebhookEndpoint(
  app: FastifyInstance,
  account: UserWithTier,
  id: string,
  body: UpdateWebhookBody,
  settings: WebhookSafety,
): Promise<WebhookEndpointResource> {
  const endpointId = parseWebhookId(id)
  if (Object.keys(body).length === 0) throw new ApiError(400, 'send at least one of url, events, description, enabled')
  // the endpoint first: another user's answers 404 whatever the body says
  if (!(await app.repos.webhooks.findByOwner(endpointId, account.id))) throw webhookNotFound()
  const changes = {
    ...(body.url !== undefined ? { url: validateWebhookUrl(body.url, settings) } : {}),
    ...(body.events !== undefined ? { events: validateWebhookEvents(body.events, account) } : {}),
    ...(body.description !== undefined ? { description: validateDescription(body.description) } : {}),
    ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
  }
  const updated = await app.repos.webhooks.update(endpointId, account.id, changes, new Date(app.clock()))
  if (!updated) throw webhookNotFound()
  return toWebhookEndpointResource(updated)
}

export async function rotateWebhookSecret(app: FastifyInstance, account: UserWithTier, id: string): Promise<WebhookEndpointWithSecretResource> {
  const rotated = await app.repos.webhooks.rotateSecret(parseWebhookId(id), account.id, generateWebhookSecret(), new Date(app.clock()))
  if (!rotated) throw webhookNotFound()
  return withSecret(rotated)
}

/** Queues a `webhook.test` delivery to the caller's endpoint; the dispatcher sends it. */
export async function queueTestEvent(app: FastifyInstance, account: UserWithTier, id: string): Promise<WebhookDelivery> {
  const endpoint = await findOwnEndpoint(app, id, account)
  if (!endpoint.enabled) throw disabledEndpoint()
  const now = new Date(app.clock())
  const payload = eventEnvelope('webhook.test', { endpoint_id: endpoint.id, message: 'A test event, sent because you asked for one' }, now)
  const [inserted] = await app.repos.webhooks.insertDeliveries([{ endpointId: endpoint.id, messageId: webhookMessageId(), eventType: 'webhook.test', payload, now }])
  const delivery = inserted && (await app.repos.webhooks.findDelivery(endpoint.id, inserted.id))
  if (!delivery) throw new Error('the test delivery was not recorded')
  await app.queueWebhookDelivery(delivery)
  return delivery
}

/** Queues one of the caller's deliveries again; the dispatcher sends it. */
export async function retryDelivery(app: FastifyInstance, account: UserWithTier, id: string, deliveryId: string): Promise<WebhookDelivery> {
  const endpoint = await findOwnEndpoint(app, id, account)
  const delivery = parseWebhookId(deliveryId, deliveryNotFound)
  if (!endpoint.enabled) throw disabledEndpoint()
  const result = await app.repos.webhooks.resetForRetry(endpoint.id, delivery, new Date(app.clock()))
  if (result.outcome !== 'queued') {
    throw result.outcome === 'pending' ? new ApiError(409, 'the delivery is already queued (pending): it is sent at next_attempt_at') : deliveryNotFound()
  }
  await app.queueWebhookDelivery(result.delivery)
  return result.delivery
}
