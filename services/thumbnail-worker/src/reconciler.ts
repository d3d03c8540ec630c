import type { Logger } from '@imageapi/logger'
import type { Repositories } from '@imageapi/db'
import { enqueueThumbnails, Priority, type ThumbnailJobData } from '@imageapi/queue'
import type { ObjectStorage } from '@imageapi/storage'
import type { Queue } from 'bullmq'
import { sweepExpiredUploads } from './sweep-uploads.js'
import { runPeriodically } from './periodic.js'

export interface ReconcilerDeps {
  repos: Repositories
  storage: ObjectStorage
  queue: Queue<ThumbnailJobData>
  log: Logger
  /** Pending longer than this means the job may be lost. */
  pendingAfterMs: number
  now?: () => number
}

/**
 * Postgres says what is owed; Redis only schedules it. Images whose thumbnails stayed pending past
 * the deadline are queued again (a no-op when their job is still there), and objects whose rows
 * were deleted while storage was down are removed.
 */
export async function reconcileOnce(deps: ReconcilerDeps): Promise<{ requeued: number; objectsRemoved: number }> {
  const now = deps.now?.() ?? Date.now()
  const cutoff = new Date(now - deps.pendingAfterMs)
  const stale = await deps.repos.thumbnails.listImagesPendingSince(cutoff, 500)
  for (const imageId of stale) await enqueueThumbnails(deps.queue, { imageId }, { priority: Priority.backfill })

  const orphans = await deps.repos.objectDeletions.listOlderThan(cutoff, 500)
  if (orphans.length > 0) {
    await deps.storage.removeObjects(orphans)
    await deps.repos.objectDeletions.confirm(orphans)
  }
  if (stale.length || orphans.length) deps.log.info({ requeued: stale.length, objectsRemoved: orphans.length }, 'reconciled')
  return { requeued: stale.length, objectsRemoved: orphans.length }
}

/** Runs reconcileOnce, then sweeps expired uploads, every `intervalMs`. */
export function startReconciler(deps: ReconcilerDeps, intervalMs: number): { stop(): Promise<void> } {
  return runPeriodically(() => reconcileOnce(deps).then(() => sweepExpiredUploads(deps)), intervalMs, deps.log, 'reconcile')
}
