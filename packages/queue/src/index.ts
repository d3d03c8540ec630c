import { Queue, QueueEvents, type ConnectionOptions, type JobsOptions } from 'bullmq'
import { Redis } from 'ioredis'
import { Type } from '@imageapi/config'

export const THUMBNAIL_QUEUE = 'thumbnails'

/** Only the image id travels: the worker reads what is owed from Postgres, the truth. */
export interface ThumbnailJobData {
  imageId: string
  /** The request that caused the work, so the worker's log lines can be tied back to it. */
  requestId?: string
}

export const queueEnvSchema = {
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', pattern: '^rediss?://' }),
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

export function redisConnection(url: string, options: { worker?: boolean } = {}): ConnectionOptions {
  // Workers block on Redis; BullMQ requires unlimited retries there. Producers fail fast instead.
  return { url, maxRetriesPerRequest: options.worker ? null : 1, enableOfflineQueue: options.worker ?? false } as ConnectionOptions
}

export function createRedis(url: string, options: { worker?: boolean } = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: options.worker ? null : 1, lazyConnect: false })
}

export function createThumbnailQueue(options: { redisUrl: string; prefix: string }): Queue<ThumbnailJobData> {
  return new Queue<ThumbnailJobData>(THUMBNAIL_QUEUE, {
    connection: redisConnection(options.redisUrl),
    prefix: options.prefix,
    defaultJobOptions: thumbnailJobOptions,
  })
}

/**
 * The thumbnail queue's events (jobs completed, failed), read from Redis on one blocking connection:
 * for a process that waits on particular images without polling for them.
 */
export function createThumbnailQueueEvents(options: { redisUrl: string; prefix: string }): QueueEvents {
  return new QueueEvents(THUMBNAIL_QUEUE, { connection: redisConnection(options.redisUrl, { worker: true }), prefix: options.prefix })
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
