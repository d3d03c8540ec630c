import type { Logger } from '@imageapi/logger'
import { renditionName, type Repositories, type ThumbnailWork } from '@imageapi/db'
import { contentTypeOf, isRenditionFormat, isSourceFormat, thumbnailKey, type RenditionFormat, type ServedFormat, type SourceFormat } from '@imageapi/media'
import { ObjectNotFoundError, type ObjectStorage } from '@imageapi/storage'
import {
  renderThumbnails,
  UndecodableImageError,
  type FailedThumbnail,
  type RenderedThumbnail,
  type RenderThumbnailsResult,
  type ThumbnailOutcome,
  type ThumbnailRequest,
} from './render-thumbnails.js'

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
  /** Heights whose source-format thumbnail was made, failed, or was no longer owed once written (removed again). */
  rendered: number[]
  failed: number[]
  discarded: number[]
  /** The same for renditions, each named `height:format`. */
  renditions: { rendered: string[]; failed: string[]; discarded: string[] }
}

/**
 * How many times one job looks at the rows: once to start, then again after each round of writes,
 * because an admin may have changed the owner's tier meanwhile (new heights owed). Bounded, so a
 * tier changed over and over cannot hold a job forever; what is left stays pending, and the
 * reconciler queues it again.
 */
const MAX_ROUNDS = 3

/**
 * Makes every thumbnail and rendition still owed for one image, as the rows say now (not as the job
 * said when it was queued): reads the original once, decodes it once, encodes every height in every
 * owed format from those pixels, and records them; then makes whatever became owed while it ran, the
 * same way. Keys are fixed per image, height and format, so a retried or duplicated run overwrites
 * rather than leaks. The image's placeholder is made from the same pixels, the first time.
 */
export async function generateThumbnails(deps: GenerateThumbnailsDeps, imageId: string): Promise<GenerateThumbnailsResult> {
  const result: GenerateThumbnailsResult = { rendered: [], failed: [], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } }
  let original: Buffer | undefined
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const work = await deps.repos.thumbnails.findOwedWork(imageId)
    if (!work || (work.owedHeights.length === 0 && work.owedRenditions.length === 0)) break
    if (round > 1) deps.log.info({ imageId, heights: work.owedHeights, renditions: work.owedRenditions.length, round }, 'more thumbnails became owed while the job ran; making them too')
    original ??= await readOriginal(deps.storage, work.originalKey)
    const made = await makeThumbnails(deps, work, original)
    result.format = made.format
    result.rendered.push(...made.rendered)
    result.failed.push(...made.failed)
    result.discarded.push(...made.discarded)
    result.renditions.rendered.push(...made.renditions.rendered)
    result.renditions.failed.push(...made.renditions.failed)
    result.renditions.discarded.push(...made.renditions.discarded)
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

/** One request per owed height: its source-format file if that row is pending, and its owed renditions. */
function requestsFor(work: ThumbnailWork): ThumbnailRequest[] {
  const byHeight = new Map<number, ThumbnailRequest>()
  const requestAt = (height: number) => {
    let request = byHeight.get(height)
    if (!request) byHeight.set(height, (request = { height, source: false, renditions: [] }))
    return request
  }
  for (const height of work.owedHeights) requestAt(height).source = true
  for (const { height, format, quality, effort } of work.owedRenditions) requestAt(height).renditions.push({ format, quality, effort })
  return [...byHeight.values()]
}

interface StoredFile {
  height: number
  width: number
  format: ServedFormat
  objectKey: string
  data: Buffer
  bytes: number
}

/** Renders what the work owes from the original, stores it and records each outcome in its row. */
async function makeThumbnails(deps: GenerateThumbnailsDeps, work: ThumbnailWork, original: Buffer): Promise<GenerateThumbnailsResult> {
  const { repos, storage } = deps
  const { imageId } = work
  let rendered: RenderThumbnailsResult
  try {
    rendered = await renderThumbnails(original, requestsFor(work), { ...deps.limits, placeholder: work.needsPlaceholder })
  } catch (error) {
    if (error instanceof UndecodableImageError) throw new PermanentThumbnailError(`the image could not be decoded: ${error.message}`, { cause: error })
    throw error
  }
  const files: StoredFile[] = rendered.thumbnails.filter(isRendered).flatMap((thumbnail) =>
    thumbnail.files.map((file) => ({
      height: thumbnail.height,
      width: thumbnail.width,
      format: file.format,
      objectKey: thumbnailKey(imageId, thumbnail.height, file.format),
      data: file.data,
      bytes: file.data.length,
    })),
  )
  const unmade = rendered.thumbnails.filter((thumbnail): thumbnail is FailedThumbnail => !isRendered(thumbnail))

  // Every put and failure mark in flight at once; all of them settle before the first error is
  // thrown, so no object is still being written once the job has failed.
  const writes = await Promise.allSettled([
    ...files.map((file) => storage.putObject(file.objectKey, file.data, file.bytes, contentTypeOf(file.format))),
    ...unmade.map((thumbnail) => repos.thumbnails.markFailed(imageId, [thumbnail.height], thumbnail.error)),
    ...(rendered.placeholder ? [repos.images.setPlaceholder(imageId, rendered.placeholder)] : []),
  ])
  const firstFailure = writes.find((write) => write.status === 'rejected')
  if (firstFailure) throw firstFailure.reason

  const sourceFiles = files.filter((file) => isSourceFormat(file.format))
  const renditionFiles = files.filter((file): file is StoredFile & { format: RenditionFormat } => isRenditionFormat(file.format))
  const recordedHeights = new Set(await repos.thumbnails.markReadyMany(imageId, sourceFiles))
  const recordedRenditions = await repos.thumbnails.markRenditionsReady(imageId, renditionFiles)
  const orphans = [
    ...sourceFiles.filter((file) => !recordedHeights.has(file.height)),
    ...renditionFiles.filter((file) => !recordedRenditions.has(renditionName(file.height, file.format))),
  ]
  await removeOrphans(deps, imageId, orphans)
  const orphanNames = new Set(orphans.map((file) => renditionName(file.height, file.format as RenditionFormat)))
  const madeRenditionNames = renditionFiles.map((file) => renditionName(file.height, file.format))
  return {
    format: rendered.format,
    rendered: sourceFiles.map((file) => file.height).filter((height) => recordedHeights.has(height)),
    failed: unmade.map((thumbnail) => thumbnail.height),
    discarded: sourceFiles.map((file) => file.height).filter((height) => !recordedHeights.has(height)),
    renditions: {
      rendered: madeRenditionNames.filter((name) => !orphanNames.has(name)),
      failed: work.owedRenditions.filter((owed) => unmade.some((thumbnail) => thumbnail.height === owed.height)).map((owed) => renditionName(owed.height, owed.format)),
      discarded: madeRenditionNames.filter((name) => orphanNames.has(name)),
    },
  }
}

function isRendered(thumbnail: ThumbnailOutcome): thumbnail is RenderedThumbnail {
  return !('error' in thumbnail)
}

/**
 * The image was deleted (or heights dropped) while we worked: take the objects back. Recorded
 * first, so that if storage fails now the reconciler removes them later: a retry of this job would
 * find nothing owed and never come back to these keys.
 */
async function removeOrphans(deps: GenerateThumbnailsDeps, imageId: string, orphans: readonly StoredFile[]): Promise<void> {
  if (orphans.length === 0) return
  const keys = orphans.map((file) => file.objectKey)
  await deps.repos.objectDeletions.record(keys)
  await deps.storage.removeObjects(keys)
  await deps.repos.objectDeletions.confirm(keys)
  for (const { height, format } of orphans) deps.log.info({ imageId, height, format }, 'thumbnail no longer owed; removed')
}
