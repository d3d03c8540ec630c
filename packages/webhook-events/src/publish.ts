import { createHash } from 'node:crypto'
import type { Repositories, WebhookDelivery } from '@imageapi/db'
import { enqueueWebhookDelivery, type WebhookQueue } from '@imageapi/queue'
import { eventEnvelope, type WebhookEventType } from '@imageapi/webhooks'

export interface PublishDeps {
  repos: Pick<Repositories, 'webhooks'>
  queue: WebhookQueue
  /**
   * How long queueing the jobs may take before publishing gives up on them (the rows are written;
   * the reconciler queues them). BullMQ waits for a connection it never had, so this bounds a
   * publish while Redis is down. 5 s unless given.
   */
  enqueueTimeoutMs?: number
}

const DEFAULT_ENQUEUE_TIMEOUT_MS = 5_000

/** Who hears of an event: one account's endpoints, or every active admin's (installation-wide events). */
export type WebhookAudience = { ownerId: string } | 'admins'

export interface WebhookEvent {
  type: WebhookEventType
  /** The envelope's `data`. */
  data: Record<string, unknown>
  audience: WebhookAudience
  /**
   * What makes this event this event, e.g. `image.ready:<image id>`. Publishing the same key again
   * (a job retried after it published) queues nothing new: each endpoint's `webhook-id` is derived
   * from it, and a delivery is unique per endpoint and `webhook-id`.
   */
  key: string
  /** When it happened: the envelope's `timestamp`, and when its deliveries are queued. */
  at: Date
}

/**
 * The `webhook-id` of an event for one endpoint: `msg_` and 24 URL-safe characters of
 * sha256(key:endpoint), the same whenever the event is published again, different per endpoint.
 */
export function eventMessageId(key: string, endpointId: string): string {
  return `msg_${createHash('sha256').update(`${key}:${endpointId}`).digest('base64url').slice(0, 24)}`
}

/**
 * Publishes an event: one pending delivery row per enabled endpoint subscribed to its type, then
 * one job per new row on the webhooks queue. The rows are the promise to deliver: once they are
 * written, a failure to queue (Redis away) is not thrown, since the worker's webhook reconciler
 * queues deliveries left due. Throws only when the rows could not be written (or the event does
 * not fit the envelope schema, a caller bug). Resolves with how many deliveries were queued
 * (rows inserted; 0 when the event had been published before or nobody subscribed).
 */
export async function publishWebhookEvent(deps: PublishDeps, event: WebhookEvent): Promise<number> {
  const envelope = eventEnvelope(event.type, event.data, event.at)
  const endpoints =
    event.audience === 'admins'
      ? await deps.repos.webhooks.listSubscribedByAdmins(event.type)
      : await deps.repos.webhooks.listSubscribed(event.audience.ownerId, event.type)
  if (endpoints.length === 0) return 0
  const inserted = await deps.repos.webhooks.insertDeliveries(
    endpoints.map((endpoint) => ({
      endpointId: endpoint.id,
      messageId: eventMessageId(event.key, endpoint.id),
      eventType: event.type,
      payload: envelope,
      now: event.at,
    })),
  )
  const queued = Promise.allSettled(inserted.map((delivery) => enqueueWebhookDelivery(deps.queue, delivery.id, { delayMs: 0, attempt: 0 })))
  let timer: NodeJS.Timeout | undefined
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, deps.enqueueTimeoutMs ?? DEFAULT_ENQUEUE_TIMEOUT_MS)
    timer.unref()
  })
  try {
    await Promise.race([queued, gaveUp])
  } finally {
    clearTimeout(timer)
  }
  return inserted.length
}

/**
 * Queues an existing pending delivery to be attempted now: for the gateway's test event and manual
 * retry, after their rows are written. Rejects when Redis cannot take the job; the row is still
 * owed and the worker's reconciler queues it once it has been due for a while.
 */
export async function queueWebhookDelivery(queue: WebhookQueue, delivery: Pick<WebhookDelivery, 'id' | 'attempts'>): Promise<void> {
  await enqueueWebhookDelivery(queue, delivery.id, { delayMs: 0, attempt: delivery.attempts })
}
