/**
 * Webhook delivery (issue 17): how an event gets to a receiver, at least once.
 *
 * - Postgres is the truth. Publishing an event (publishWebhookEvent, @imageapi/webhook-events)
 *   writes one `pending` webhook_deliveries row per subscribed endpoint, with a `webhook-id`
 *   derived from the event and the endpoint, so publishing it again adds nothing. A pending row
 *   whose `next_attempt_at` has come is owed.
 * - BullMQ only schedules, on a queue of its own (`webhooks`): one job per delivery and attempt
 *   (`delivery-<id>-<attempt>`, BullMQ `attempts: 1`). Retries are ours, by the Standard Webhooks
 *   schedule with jitter (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about a day), each recorded in
 *   the row (attempts, status code, latency, error, next attempt) and queued as a new delayed job.
 * - The dispatcher is a second BullMQ worker inside each thumbnail-worker process, with its own
 *   concurrency (WEBHOOK_CONCURRENCY): a slow receiver (up to 10 s an attempt) holds only a webhook
 *   slot, never a thumbnail one, and the webhook queue scales with the workers.
 * - Nothing is lost when a dispatcher is killed (kill -9) or Redis loses jobs: the job of an attempt
 *   in flight is taken up again by BullMQ once its lock lapses (a stalled job), and the webhook
 *   reconciler (webhook-reconciler.ts) queues every pending delivery that has been due for longer
 *   than WEBHOOK_RECONCILE_AFTER_SECONDS. Either may send an attempt twice; receivers de-duplicate
 *   on `webhook-id`, which every attempt of a delivery repeats.
 * - One attempt: load the row and its endpoint; skip it when it is no longer pending, when the job
 *   is for an attempt already made, or when the endpoint is disabled (it stays pending and is sent
 *   if the owner enables the endpoint again). Sign it anew (a fresh `webhook-timestamp`) with every
 *   live secret (the current one, and the rotated-out one for 24 h: several `v1,` signatures,
 *   space-separated), send it with deliverWebhook (SSRF checks on the resolved address, 10 s,
 *   no redirects). A 2xx is `delivered`. Anything else is `retry` with the next delay, or, once
 *   the schedule is used up, `failed`, which may disable the endpoint (WEBHOOK_DISABLE_AFTER_FAILURES
 *   failed deliveries in a row, or every delivery failing for a day), with the reason on the endpoint.
 */
import type { Job } from 'bullmq'
import type { Repositories, WebhookFailureRecord } from '@imageapi/db'
import { webhookSigningSecrets } from '@imageapi/db'
import type { Logger } from '@imageapi/logger'
import { enqueueWebhookDelivery, type WebhookJobData, type WebhookQueue } from '@imageapi/queue'
import {
  deliverWebhook,
  nextRetryDelayMs,
  serializeEnvelope,
  shouldDisableEndpoint,
  signWebhook,
  type DeliveryResult,
  type HostResolver,
  type WebhookEnvelope,
  type WebhookHeaders,
} from '@imageapi/webhooks'

export interface WebhookDeliveryDeps {
  repos: Pick<Repositories, 'webhooks'>
  /** Where the next attempt of a retried delivery is queued. */
  queue: WebhookQueue
  log: Logger
  /** Development escape hatches (WEBHOOK_ALLOW_LOOPBACK / WEBHOOK_ALLOW_HTTP); never in production. */
  allowLoopback: boolean
  allowHttp: boolean
  /** Multiplies every retry delay (WEBHOOK_RETRY_SCALE): 1 in production, small in tests. */
  retryScale: number
  /** Failed deliveries in a row that disable an endpoint (WEBHOOK_DISABLE_AFTER_FAILURES). */
  disableAfterFailures: number
  /** Bounds one attempt; deliverWebhook's 10 s unless given. */
  timeoutMs?: number
  resolve?: HostResolver
  now?: () => Date
  random?: () => number
}

export type WebhookAttemptOutcome =
  | { outcome: 'skipped'; reason: 'gone' | 'not_pending' | 'stale_attempt' | 'endpoint_disabled' }
  | { outcome: 'delivered'; statusCode: number | undefined }
  | { outcome: 'retry'; error: string; nextAttemptAt: Date; delayMs: number }
  | { outcome: 'failed'; error: string; disabledReason: string | undefined }

/** The reason to disable an endpoint after a failed delivery, with the threshold configured. */
export function disableRule(disableAfterFailures: number): (record: WebhookFailureRecord) => string | undefined {
  return (record) =>
    record.consecutiveFailures >= disableAfterFailures
      ? `disabled after ${record.consecutiveFailures} consecutive failed deliveries`
      : shouldDisableEndpoint(record)
}

/** The Standard Webhooks headers, signed with each secret: `v1,<sig> v1,<sig>` while a rotated-out secret lives. */
export function signWithEvery(secrets: readonly string[], id: string, timestamp: Date, payload: string): WebhookHeaders {
  const signed = secrets.map((secret) => signWebhook({ secret, id, timestamp, payload }))
  return { ...signed[0]!, 'webhook-signature': signed.map((headers) => headers['webhook-signature']).join(' ') }
}

/** What went wrong, for the delivery's `last_error` (shown to the endpoint's owner): with the start of the receiver's answer when it gave one. */
function describeFailure(result: DeliveryResult): string {
  const what = result.error ?? `the receiver answered ${result.status ?? 'without a status'}`
  const excerpt = result.responseExcerpt?.trim()
  return excerpt ? `${what}: ${excerpt}` : what
}

/** Makes one attempt at a delivery, records it, and queues the next one when it is to be retried. */
export async function attemptWebhookDelivery(deps: WebhookDeliveryDeps, data: WebhookJobData): Promise<WebhookAttemptOutcome> {
  const now = deps.now ?? (() => new Date())
  const found = await deps.repos.webhooks.findWithEndpoint(data.deliveryId)
  if (!found) return { outcome: 'skipped', reason: 'gone' }
  const { delivery, endpoint } = found
  if (delivery.status !== 'pending') return { outcome: 'skipped', reason: 'not_pending' }
  if (data.attempt !== undefined && data.attempt !== delivery.attempts) return { outcome: 'skipped', reason: 'stale_attempt' }
  if (!endpoint.enabled) return { outcome: 'skipped', reason: 'endpoint_disabled' }

  const sentAt = now()
  const body = serializeEnvelope(delivery.payload as WebhookEnvelope)
  let result: DeliveryResult
  try {
    const headers = signWithEvery(webhookSigningSecrets(endpoint, sentAt), delivery.message_id, sentAt, body)
    result = await deliverWebhook({
      url: endpoint.url,
      body,
      headers: { ...headers },
      allowLoopback: deps.allowLoopback,
      allowHttp: deps.allowHttp,
      ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}),
      ...(deps.resolve ? { resolve: deps.resolve } : {}),
    })
  } catch (error) {
    // a secret or id the signer refuses: a bad row, recorded like any failed attempt rather than retried by BullMQ forever
    result = { outcome: 'failed', latencyMs: 0, error: `could not sign or send: ${error instanceof Error ? error.message : String(error)}` }
  }

  const finishedAt = now()
  const statusCode = result.status ?? null
  if (result.outcome === 'delivered') {
    const recorded = await deps.repos.webhooks.recordAttempt(delivery.id, { outcome: 'delivered', statusCode, latencyMs: result.latencyMs, error: null, now: finishedAt })
    if (!recorded) return { outcome: 'skipped', reason: 'not_pending' }
    return { outcome: 'delivered', statusCode: result.status }
  }

  const error = describeFailure(result)
  const attemptsMade = delivery.attempts + 1
  const delay = nextRetryDelayMs(attemptsMade, deps.random)
  if (delay !== undefined) {
    const delayMs = Math.max(0, Math.round(delay * deps.retryScale))
    const nextAttemptAt = new Date(finishedAt.getTime() + delayMs)
    const recorded = await deps.repos.webhooks.recordAttempt(delivery.id, { outcome: 'retry', statusCode, latencyMs: result.latencyMs, error, nextAttemptAt, now: finishedAt })
    if (!recorded) return { outcome: 'skipped', reason: 'not_pending' }
    try {
      await enqueueWebhookDelivery(deps.queue, delivery.id, { delayMs, attempt: attemptsMade })
    } catch (queueError) {
      // the row says when it is owed; the webhook reconciler queues it
      deps.log.warn({ err: queueError, deliveryId: delivery.id }, 'could not queue the next webhook attempt; the reconciler will')
    }
    return { outcome: 'retry', error, nextAttemptAt, delayMs }
  }

  const recorded = await deps.repos.webhooks.recordAttempt(delivery.id, {
    outcome: 'failed',
    statusCode,
    latencyMs: result.latencyMs,
    error,
    now: finishedAt,
    disable: disableRule(deps.disableAfterFailures),
  })
  if (!recorded) return { outcome: 'skipped', reason: 'not_pending' }
  if (recorded.disabledReason !== undefined) {
    deps.log.warn({ endpointId: endpoint.id, reason: recorded.disabledReason }, 'webhook endpoint disabled')
  }
  return { outcome: 'failed', error, disabledReason: recorded.disabledReason }
}

/** The BullMQ processor of the webhooks queue. Throws only when Postgres could not be read or written: the row stays owed. */
export function createWebhookDeliveryProcessor(deps: WebhookDeliveryDeps) {
  return async (job: Job<WebhookJobData>): Promise<WebhookAttemptOutcome> => {
    const log = deps.log.child({ jobId: job.id, deliveryId: job.data.deliveryId, attempt: job.data.attempt })
    const outcome = await attemptWebhookDelivery({ ...deps, log }, job.data)
    if (outcome.outcome === 'skipped') log.debug({ reason: outcome.reason }, 'webhook delivery skipped')
    else log.info(outcome, `webhook ${outcome.outcome}`)
    return outcome
  }
}
