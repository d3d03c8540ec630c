import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { errorResponses, ImageIdParams } from '../schemas.js'
import { imageNotFound, parseImageId } from './get-image.js'

const deleteImage: FastifyPluginAsyncTypebox = async (app) => {
  app.delete(
    '/api/images/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['images'],
        summary: 'Delete one of your images, its files and every link to it',
        security: [{ bearerAuth: [] }],
        params: ImageIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const keys = await app.repos.images.deleteByOwner(parseImageId(request.params.id), request.account.id)
      if (!keys) throw imageNotFound()
      // The rows are gone, so every link is dead already; the objects follow. Should storage
      // fail now, object_deletions still lists them and the worker's sweeper removes them later.
      try {
        await app.storage.removeObjects(keys)
        await app.repos.objectDeletions.confirm(keys)
      } catch (error) {
        request.log.warn({ err: error, imageId: request.params.id }, 'objects left for the sweeper')
      }
      return reply.code(204).send(null)
    },
  )
}

export default deleteImage
