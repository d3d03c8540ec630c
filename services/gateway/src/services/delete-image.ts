import type { FastifyInstance, FastifyRequest } from 'fastify'

/**
 * Deletes one of the owner's images with its files; false when the owner has no such image. The
 * rows go first, so every link is dead at once; the objects follow. Should storage fail then,
 * object_deletions still lists them and the worker's sweeper removes them later. The owner's
 * endpoints hear `image.deleted`.
 */
export async function deleteImageAndFiles(app: FastifyInstance, request: FastifyRequest, imageId: string, ownerId: string): Promise<boolean> {
  const keys = await app.repos.images.deleteByOwner(imageId, ownerId)
  if (!keys) return false
  await app.publishWebhookEvent({ type: 'image.deleted', data: { id: imageId }, audience: { ownerId }, key: `image.deleted:${imageId}`, at: new Date(app.clock()) })
  try {
    await app.storage.removeObjects(keys)
    await app.repos.objectDeletions.confirm(keys)
  } catch (error) {
    request.log.warn({ err: error, imageId }, 'objects left for the sweeper')
  }
  return true
}
