import type { Logger } from '@imageapi/logger'
import type { Repositories } from '@imageapi/db'
import { ObjectNotFoundError, type ObjectStorage } from '@imageapi/storage'
import { renderThumbnails, UndecodableImageError } from './render-thumbnails.js'

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

const CONTENT_TYPES = { png: 'image/png', jpeg: 'image/jpeg' } as const
const EXTENSIONS = { png: 'png', jpeg: 'jpg' } as const

export function thumbnailKey(imageId: string, height: number, format: 'png' | 'jpeg'): string {
  return `thumbnails/${imageId}/${height}.${EXTENSIONS[format]}`
}

export interface GenerateThumbnailsResult {
  format?: 'png' | 'jpeg'
  rendered: number[]
  failed: number[]
  /** Rendered, but no longer owed by the time they were written; removed again. */
  discarded: number[]
}

/**
 * Makes every thumbnail still owed for one image, as the rows say now (not as the job said when
 * it was queued): reads the original once, decodes it once, writes each height and marks its row.
 * Keys are fixed per image and height, so a retried or duplicated run overwrites rather than leaks.
 */
export async function generateThumbnails(deps: GenerateThumbnailsDeps, imageId: string): Promise<GenerateThumbnailsResult> {
  const { repos, storage, log } = deps
  const work = await repos.thumbnails.findOwedWork(imageId)
  if (!work || work.owedHeights.length === 0) return { rendered: [], failed: [], discarded: [] }

  let original: Buffer
  try {
    original = await storage.getObjectBuffer(work.originalKey)
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new PermanentThumbnailError('the original file is missing from storage', { cause: error })
    throw error
  }

  let rendered: Awaited<ReturnType<typeof renderThumbnails>>
  try {
    rendered = await renderThumbnails(original, work.owedHeights, deps.limits)
  } catch (error) {
    if (error instanceof UndecodableImageError) throw new PermanentThumbnailError(`the image could not be decoded: ${error.message}`, { cause: error })
    throw error
  }

  const result: GenerateThumbnailsResult = { format: rendered.format, rendered: [], failed: [], discarded: [] }
  for (const thumbnail of rendered.thumbnails) {
    if ('error' in thumbnail) {
      await repos.thumbnails.markFailed(imageId, [thumbnail.height], thumbnail.error)
      result.failed.push(thumbnail.height)
      continue
    }
    const key = thumbnailKey(imageId, thumbnail.height, rendered.format)
    await storage.putObject(key, thumbnail.data, thumbnail.data.length, CONTENT_TYPES[rendered.format])
    const recorded = await repos.thumbnails.markReady(imageId, thumbnail.height, { width: thumbnail.width, objectKey: key, bytes: thumbnail.data.length })
    if (!recorded) {
      // The image was deleted (or the height dropped) while we worked: take the object back.
      // Recorded first, so that if storage fails now the reconciler removes it later: a retry
      // of this job would find nothing owed and never come back to this key.
      await repos.objectDeletions.record([key])
      await storage.removeObjects([key])
      await repos.objectDeletions.confirm([key])
      log.info({ imageId, height: thumbnail.height }, 'thumbnail no longer owed; removed')
      result.discarded.push(thumbnail.height)
      continue
    }
    result.rendered.push(thumbnail.height)
  }
  return result
}
