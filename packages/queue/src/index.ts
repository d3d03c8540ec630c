import { Queue, QueueEvents, Worker, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq'
import { Type } from '@imageapi/config'
import { locate, type QueueLocation } from './location.js'
import { closingWith, redisConnection, redisEnvSchema } from './redis.js'

export const THUMBNAIL_QUEUE = 'thumbnails'

/** Only the image id travels: the worker reads what is owed from Postgres, the truth. */
export interface ThumbnailJobData {
  imageId: string
  /** The request that caused the work, so the worker's log lines can be tied back to it. */
  requestId?: string
}

export const queueEnvSchema = {
  ...redisEnvSchema,
  /** Key prefix of every BullMQ key; lets several deployments (or test files) share one Redis. */
  QUEUE_PREFIX: Type.String({ default: 'imageapi', pattern: '^[A-Za-z0-9_-]+$' }),
}

/** One job per image: adding work for an image that already has a job waiting is a no-op. */
export function thumbnailJobId(imageId: string): string {
  return `image-${imageId}`
}

export const thumbnailJobOptions: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: true,
  // kept for inspection and retry from the admin API; the failure reason is also in the rows
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
}

export const Priority = {
  /** Fresh uploads: a user is waiting for them. */
  upload: 1,
  /** Re-tiering and reconciliation: must never delay uploads. */
  backfill: 100,
} as const

export type { QueueLocation } from './location.js'

export function createThumbnailQueue(options: QueueLocation): Queue<ThumbnailJobData> {
  const { target, prefix } = locate(options)
  const connection = redisConnection(target)
  return closingWith(new Queue<ThumbnailJobData>(THUMBNAIL_QUEUE, { connection, prefix, defaultJobOptions: thumbnailJobOptions }), connection)
}

/**
 * The thumbnail queue's events (jobs completed, failed), read from Redis on one blocking connection:
 * for a process that waits on particular images without polling for them.
 */
export function createThumbnailQueueEvents(options: QueueLocation): QueueEvents {
  const { target, prefix } = locate(options)
  const connection = redisConnection(target, { worker: true })
  return closingWith(new QueueEvents(THUMBNAIL_QUEUE, { connection, prefix }), connection)
}

/** A worker of the thumbnail queue, on a blocking connection of its own (maxRetriesPerRequest: null). */
export function createThumbnailWorker(
  processor: Processor<ThumbnailJobData>,
  options: QueueLocation & Omit<WorkerOptions, 'connection' | 'prefix'>,
): Worker<ThumbnailJobData> {
  const { target, prefix } = locate(options)
  const { redis: _redis, redisUrl: _redisUrl, prefix: _prefix, ...workerOptions } = options as QueueLocation & { redis?: unknown; redisUrl?: unknown } & Omit<WorkerOptions, 'connection' | 'prefix'>
  const connection = redisConnection(target, { worker: true })
  return closingWith(new Worker<ThumbnailJobData>(THUMBNAIL_QUEUE, processor, { ...workerOptions, connection, prefix }), connection)
}

/**
 * Queues the thumbnails of one image. A finished job with the same id (kept after a failure)
 * would make BullMQ ignore the add, so it is cleared first.
 */
export async function enqueueThumbnails(
  queue: Queue<ThumbnailJobData>,
  data: ThumbnailJobData,
  options: { priority?: number } = {},
): Promise<void> {
  const jobId = thumbnailJobId(data.imageId)
  const existing = await queue.getJob(jobId)
  if (existing) {
    const state = await existing.getState()
    if (state === 'failed' || state === 'completed') await existing.remove()
    else return
  }
  await queue.add('render', data, { ...thumbnailJobOptions, jobId, priority: options.priority ?? Priority.upload })
}

/**
 * Queues the thumbnails of many images at one priority (backfills, retries), a page of ids at a
 * time with a few adds in flight, so a large backfill neither floods Redis nor takes forever.
 * Returns how many images were queued (an image whose job is already waiting counts too).
 */
export async function enqueueMany(
  queue: Queue<ThumbnailJobData>,
  imageIdPages: AsyncIterable<readonly string[]> | Iterable<readonly string[]>,
  options: { priority: number; inFlight?: number },
): Promise<number> {
  const inFlight = options.inFlight ?? 16
  let queued = 0
  for await (const page of imageIdPages) {
    for (let start = 0; start < page.length; start += inFlight) {
      const batch = page.slice(start, start + inFlight)
      await Promise.all(batch.map((imageId) => enqueueThumbnails(queue, { imageId }, { priority: options.priority })))
      queued += batch.length
    }
  }
  return queued
}

export { JOB_STATES, pingQueue, registerQueueMetrics } from './observe.js'
export {
  createWebhookQueue,
  createWebhookWorker,
  enqueueWebhookDelivery,
  WEBHOOK_QUEUE,
  webhookJobId,
  webhookJobOptions,
  type WebhookJobData,
  type WebhookQueue,
  type WebhookWorker,
} from './webhook-queue.js'
export {
  bullmqPrefix,
  createRedis,
  isCluster,
  parseClusterNodes,
  redisConnection,
  redisTargetFromConfig,
  REDIS_CLUSTER_NODES_PATTERN,
  toRedisTarget,
  type ConnectionRole,
  type RedisNode,
  type RedisTarget,
} from './redis.js'
