import { Queue, Worker, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq'
import { locate, type QueueLocation } from './location.js'
import { closingWith, redisConnection } from './redis.js'

/**
 * Webhook deliveries have a queue of their own, with workers of their own concurrency, so a slow
 * receiver holds only webhook slots and never delays thumbnails. Postgres is the truth (a
 * `pending` webhook_deliveries row with `next_attempt_at` is owed); this queue only schedules
 * attempts, and a job lost with Redis is queued again from the rows.
 */
export const WEBHOOK_QUEUE = 'webhooks'

/** Only the delivery's id travels; what to send, to where, is read from Postgres. */
export interface WebhookJobData {
  deliveryId: string
  /**
   * Which attempt this job is for (the delivery's `attempts` when it was queued). A job whose
   * attempt has already been made (a leftover of a lost or re-queued job) is skipped.
   */
  attempt?: number
}

export type WebhookQueue = Queue<WebhookJobData>
export type WebhookWorker = Worker<WebhookJobData>

/**
 * BullMQ makes one attempt per job: retries follow the webhook schedule (about a day), are
 * recorded in Postgres and queued as new delayed jobs, one per attempt.
 */
export const webhookJobOptions: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  // a job fails only when the dispatcher could not record its attempt (Postgres away); kept a while for inspection
  removeOnFail: { age: 24 * 3600, count: 10_000 },
}

/** One job per delivery and attempt: queueing the same attempt again while it waits is a no-op. */
export function webhookJobId(deliveryId: string, attempt: number): string {
  return `delivery-${deliveryId}-${attempt}`
}

export function createWebhookQueue(location: QueueLocation): WebhookQueue {
  const { target, prefix } = locate(location)
  const connection = redisConnection(target)
  return closingWith(new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection, prefix, defaultJobOptions: webhookJobOptions }), connection)
}

/** A worker of the webhook queue, on a blocking connection of its own. */
export function createWebhookWorker(
  processor: Processor<WebhookJobData>,
  options: QueueLocation & Omit<WorkerOptions, 'connection' | 'prefix'>,
): WebhookWorker {
  const { target, prefix } = locate(options)
  const { redis: _redis, redisUrl: _redisUrl, prefix: _prefix, ...workerOptions } = options as QueueLocation & { redis?: unknown; redisUrl?: unknown } & Omit<WorkerOptions, 'connection' | 'prefix'>
  const connection = redisConnection(target, { worker: true })
  return closingWith(new Worker<WebhookJobData>(WEBHOOK_QUEUE, processor, { ...workerOptions, connection, prefix }), connection)
}

/**
 * Queues one attempt at a delivery, after `delayMs`. A job for the same attempt that is still
 * waiting, delayed or running makes this a no-op; one that finished (a failure kept for
 * inspection) is cleared first, or BullMQ would ignore the add.
 */
export async function enqueueWebhookDelivery(queue: WebhookQueue, deliveryId: string, options: { delayMs: number; attempt: number }): Promise<void> {
  const jobId = webhookJobId(deliveryId, options.attempt)
  const existing = await queue.getJob(jobId)
  if (existing) {
    const state = await existing.getState()
    if (state === 'failed' || state === 'completed') await existing.remove()
    else return
  }
  await queue.add('deliver', { deliveryId, attempt: options.attempt }, { ...webhookJobOptions, jobId, delay: Math.max(0, Math.round(options.delayMs)) })
}
