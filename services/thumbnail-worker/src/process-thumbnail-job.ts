import { UnrecoverableError, type Job } from 'bullmq'
import type { ThumbnailJobData } from '@imageapi/queue'
import { isDatabaseUnavailable, renditionName } from '@imageapi/db'
import { StorageUnavailableError } from '@imageapi/storage'
import { generateThumbnails, PermanentThumbnailError, type GenerateThumbnailsDeps } from './generate-thumbnails.js'
import type { WorkerMetrics } from './metrics.js'

/** Postgres or storage being away says nothing about the image: the work stays owed. */
function isOutage(error: unknown): boolean {
  return error instanceof StorageUnavailableError || isDatabaseUnavailable(error)
}

/**
 * The BullMQ processor: thin on purpose. It carries the request id into every log line of the job
 * and decides when a failure is final. A bad image fails at once; any other error is retried with
 * backoff and, on the last attempt, marks the rows failed, except an outage: then the rows stay
 * pending and the reconciler queues them again once the deadline passes.
 */
export function createThumbnailJobProcessor(
  deps: GenerateThumbnailsDeps & {
    metrics?: WorkerMetrics
    /** Called once a job has left nothing owed for the image it can still make (done, or failed for good): the webhooks. */
    onImageSettled?: (imageId: string) => Promise<void>
  },
) {
  return async (job: Job<ThumbnailJobData>) => {
    const { imageId, requestId } = job.data
    const log = deps.log.child({ jobId: job.id, imageId, requestId, attempt: job.attemptsMade + 1 })
    const started = Date.now()
    // queue wait is measured on first attempts only: a retry's wait is mostly its own backoff
    const waitSeconds = job.attemptsMade === 0 ? Math.max(0, started - job.timestamp) / 1000 : undefined
    try {
      const result = await generateThumbnails({ ...deps, log }, imageId)
      log.info({ ...result, durationMs: Date.now() - started, waitMs: waitSeconds === undefined ? undefined : Math.round(waitSeconds * 1000) }, 'thumbnails done')
      deps.metrics?.recordThumbnails(result)
      deps.metrics?.recordJob('done', (Date.now() - started) / 1000, waitSeconds)
      await deps.onImageSettled?.(imageId)
      return result
    } catch (error) {
      const permanent = error instanceof PermanentThumbnailError
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1)
      log.warn({ err: error, permanent, lastAttempt, durationMs: Date.now() - started }, 'thumbnails failed')
      deps.metrics?.recordJob(permanent ? 'permanent_failure' : 'failed', (Date.now() - started) / 1000, waitSeconds)
      if (permanent || (lastAttempt && !isOutage(error))) {
        const owed = await deps.repos.thumbnails.findOwedWork(imageId)
        const reason = permanent ? (error as Error).message : 'rendering failed repeatedly'
        if (owed) {
          const heights = [...new Set([...owed.owedHeights, ...owed.owedRenditions.map((rendition) => rendition.height)])]
          await deps.repos.thumbnails.markFailed(imageId, heights, reason)
          deps.metrics?.recordThumbnails({
            rendered: [],
            failed: owed.owedHeights,
            discarded: [],
            renditions: { rendered: [], failed: owed.owedRenditions.map((r) => renditionName(r.height, r.format)), discarded: [] },
          })
        }
        await deps.onImageSettled?.(imageId)
      }
      if (permanent) throw new UnrecoverableError((error as Error).message)
      throw error
    }
  }
}
