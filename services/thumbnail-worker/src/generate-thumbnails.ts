import type { Logger } from '@imageapi/logger'
import type { Repositories } from '@imageapi/db'
import { contentTypeOf, thumbnailKey, type SourceFormat } from '@imageapi/media'
import { ObjectNotFoundError, type ObjectStorage } from '@imageapi/storage'
import { renderThumbnails, UndecodableImageError, type FailedThumbnail, type RenderedThumbnail } from './render-thumbnails.js'

export interface GenerateThumbnailsDeps {
  repos: Repositories
  storage: ObjectStorage
  log: Logger
  limits: { maxInputPixels: number; maxOutputPixels: number }
}

/** A failure that retrying cannot fix: the rows are marked failed with this reason. */
export class PermanentThumbnailError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'PermanentThumbnailError'
  }
}

export interface GenerateThumbnailsResult {
  format?: SourceFormat
  rendered: number[]
  failed: number[]
  /** Rendered, but no longer owed by the time they were written; removed again. */
  discarded: number[]
}

/**
 * How many times one job looks at the rows: once to start, then again after each round of writes,
 * because an admin may have changed the owner's tier meanwhile (new heights owed). Bounded, so a
 * tier changed over and over cannot hold a job forever; what is left stays pending, and the
 * reconciler queues it again.
 */
const MAX_ROUNDS = 3

/**
 * Makes every thumbnail still owed for one image, as the rows say now (not as the job said when
 * it was queued): reads the original once, decodes it once, writes every height at once and marks
 * their rows in one statement; then makes whatever became owed while it ran, the same way.
 * Keys are fixed per image and height, so a retried or duplicated run overwrites rather than leaks.
 */
export async function generateThumbnails(deps: GenerateThumbnailsDeps, imageId: string): Promise<GenerateThumbnailsResult> {
  const result: GenerateThumbnailsResult = { rendered: [], failed: [], discarded: [] }
  let original: Buffer | undefined
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const work = await deps.repos.thumbnails.findOwedWork(imageId)
    if (!work || work.owedHeights.length === 0) break
    if (round > 1) deps.log.info({ imageId, heights: work.owedHeights, round }, 'more thumbnails became owed while the job ran; making them too')
    original ??= await readOriginal(deps.storage, work.originalKey)
    const made = await makeThumbnails(deps, imageId, original, work.owedHeights)
    result.format = made.format
    result.rendered.push(...made.rendered)
    result.failed.push(...made.failed)
    result.discarded.push(...made.discarded)
  }
  return result
}

async function readOriginal(storage: ObjectStorage, originalKey: string): Promise<Buffer> {
  try {
    return await storage.getObjectBuffer(originalKey)
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new PermanentThumbnailError('the original file is missing from storage', { cause: error })
    throw error
  }
}

/** Renders the heights from the original, stores them and records each height's outcome in its row. */
async function makeThumbnails(deps: GenerateThumbnailsDeps, imageId: string, original: Buffer, heights: number[]): Promise<GenerateThumbnailsResult> {
  const { repos, storage, log } = deps
  let rendered: Awaited<ReturnType<typeof renderThumbnails>>
  try {
    rendered = await renderThumbnails(original, heights, deps.limits)
  } catch (error) {
    if (error instanceof UndecodableImageError) throw new PermanentThumbnailError(`the image could not be decoded: ${error.message}`, { cause: error })
    throw error
  }
  const { format } = rendered
  const made = rendered.thumbnails
    .filter((thumbnail): thumbnail is RenderedThumbnail => !('error' in thumbnail))
    .map((thumbnail) => ({ ...thumbnail, objectKey: thumbnailKey(imageId, thumbnail.height, format), bytes: thumbnail.data.length }))
  const unmade = rendered.thumbnails.filter((thumbnail): thumbnail is FailedThumbnail => 'error' in thumbnail)

  // Every put and failure mark in flight at once; all of them settle before the first error is
  // thrown, so no object is still being written once the job has failed.
  const writes = await Promise.allSettled([
    ...made.map((thumbnail) => storage.putObject(thumbnail.objectKey, thumbnail.data, thumbnail.bytes, contentTypeOf(format))),
    ...unmade.map((thumbnail) => repos.thumbnails.markFailed(imageId, [thumbnail.height], thumbnail.error)),
  ])
  const firstFailure = writes.find((write) => write.status === 'rejected')
  if (firstFailure) throw firstFailure.reason

  const recorded = new Set(await repos.thumbnails.markReadyMany(imageId, made))
  const orphans = made.filter((thumbnail) => !recorded.has(thumbnail.height))
  if (orphans.length > 0) {
    // The image was deleted (or heights dropped) while we worked: take the objects back.
    // Recorded first, so that if storage fails now the reconciler removes them later: a retry
    // of this job would find nothing owed and never come back to these keys.
    const keys = orphans.map((thumbnail) => thumbnail.objectKey)
    await repos.objectDeletions.record(keys)
    await storage.removeObjects(keys)
    await repos.objectDeletions.confirm(keys)
    for (const { height } of orphans) log.info({ imageId, height }, 'thumbnail no longer owed; removed')
  }
  return {
    format,
    rendered: made.map((thumbnail) => thumbnail.height).filter((height) => recorded.has(height)),
    failed: unmade.map((thumbnail) => thumbnail.height),
    discarded: orphans.map((thumbnail) => thumbnail.height),
  }
}
