import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ImageFormat, ImageWithThumbnails, UserWithTier } from '@imageapi/db'
import type { ProbeResult } from '@imageapi/image-probe'

export const CONTENT_TYPES: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg' }
const EXTENSIONS: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg' }

export function originalKey(imageId: string, format: ImageFormat): string {
  return `originals/${imageId}.${EXTENSIONS[format]}`
}

/**
 * Stores a checked upload: object first, then the image row and one pending row per height the
 * owner's tier grants (one transaction), then one job. The key is built from the image id, never
 * from the client's file name. If the rows cannot be written the object is removed again; if the
 * job cannot be queued the rows still say what is owed and the reconciler queues it later.
 */
export async function createImage(
  app: FastifyInstance,
  request: FastifyRequest,
  owner: UserWithTier,
  upload: { path: string; image: ProbeResult; title: string },
): Promise<ImageWithThumbnails> {
  const imageId = randomUUID()
  const format = upload.image.format
  const key = originalKey(imageId, format)
  await app.storage.putFile(key, upload.path, CONTENT_TYPES[format])
  let created: ImageWithThumbnails
  try {
    created = await app.repos.images.createWithThumbnails(
      {
        id: imageId,
        owner_id: owner.id,
        title: upload.title,
        format,
        width: upload.image.displayWidth,
        height: upload.image.displayHeight,
        bytes: upload.image.bytes,
        original_key: key,
      },
      owner.tier.thumbnail_heights,
    )
  } catch (error) {
    await app.storage.removeObjects([key]).catch(async () => {
      await app.repos.objectDeletions.record([key]).catch(() => request.log.error({ key }, 'object left behind'))
    })
    throw error
  }
  if (created.thumbnails.length > 0) await app.requestThumbnails({ imageId, requestId: request.id })
  return created
}
