import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ImageWithThumbnails, NewImage, UserWithTier } from '@imageapi/db'
import type { StoredOriginal } from './receive-upload.js'

/**
 * Writes the rows of a new image (one transaction): the image, one pending row per height owed, and
 * whatever goes with them. The heights owed are read in that transaction (insertImageOwedByTier),
 * not taken from the request's account, since an admin may have changed the tier since.
 */
export type ImageRowsWriter<T extends { image: ImageWithThumbnails }> = (image: NewImage) => Promise<T>

/**
 * Makes a stored upload an image: the image row and one pending row per height the owner's tier
 * grants when that transaction commits (read in it, not from `owner`, which is as old as the
 * request), then one job. The object was stored under a key built from the image id, never from
 * the client's file name. If the rows cannot be written the object stays uncommitted, and the
 * caller's `discard()` removes it; if the job cannot be queued the rows still say what is owed and
 * the reconciler queues it later. `writeRows` lets a caller add rows of its own to the transaction.
 */
export async function createImage<T extends { image: ImageWithThumbnails } = { image: ImageWithThumbnails }>(
  app: FastifyInstance,
  request: FastifyRequest,
  owner: UserWithTier,
  upload: { stored: StoredOriginal; title: string },
  writeRows: ImageRowsWriter<T> = async (image) => ({ image: await app.repos.images.createWithOwedThumbnails(image) }) as T,
): Promise<T> {
  const { stored } = upload
  const created = await writeRows({
    id: stored.imageId,
    owner_id: owner.id,
    title: upload.title,
    format: stored.image.format,
    width: stored.image.displayWidth,
    height: stored.image.displayHeight,
    bytes: stored.image.bytes,
    original_key: stored.key,
  })
  stored.committed = true
  if (created.image.thumbnails.length > 0) await app.requestThumbnails({ imageId: stored.imageId, requestId: request.id })
  return created
}
