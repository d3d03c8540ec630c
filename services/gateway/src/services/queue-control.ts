import type { FastifyInstance } from 'fastify'
import { enqueueMany, JOB_STATES, Priority } from '@imageapi/queue'

export type JobCounts = Record<(typeof JOB_STATES)[number], number>

export interface QueueStatus {
  /** Paused: workers finish the jobs they hold and take no new ones; jobs still queue up. */
  paused: boolean
  counts: JobCounts
}

export async function readQueueStatus(app: FastifyInstance): Promise<QueueStatus> {
  const [paused, counts] = await Promise.all([app.thumbnailQueue.isPaused(), app.thumbnailQueue.getJobCounts(...JOB_STATES)])
  return { paused, counts: Object.fromEntries(JOB_STATES.map((state) => [state, counts[state] ?? 0])) as JobCounts }
}

const PAGE = 500

/**
 * Retries every failed job. A job fails for good only after its rows were marked failed, and the
 * worker renders pending rows only, so the rows still owed go back to pending first; then each
 * image is queued again at backfill priority (its failed job is replaced). Returns how many images.
 */
export async function retryFailedJobs(app: FastifyInstance): Promise<{ images: number; thumbnails: number }> {
  let images = 0
  let thumbnails = 0
  // queueing an image again removes its failed job, so each pass reads the oldest failed jobs left;
  // bounded by the count at the start, so jobs failing again meanwhile cannot keep it going
  const total = await app.thumbnailQueue.getFailedCount()
  for (let seen = 0; seen < total; ) {
    const failed = await app.thumbnailQueue.getFailed(0, PAGE - 1)
    if (failed.length === 0) break
    seen += failed.length
    const imageIds = [...new Set(failed.map((job) => job.data.imageId))]
    thumbnails += await app.repos.thumbnails.retryFailed(imageIds)
    images += await enqueueMany(app.thumbnailQueue, [imageIds], { priority: Priority.backfill })
  }
  return { images, thumbnails }
}
