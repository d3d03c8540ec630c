import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { errorResponses, ImageIdParams } from '../schemas.js'
import { imageNotFound, parseImageId } from './get-image.js'
import { deleteImageAndFiles } from '../../services/delete-image.js'

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
      if (!(await deleteImageAndFiles(app, request, parseImageId(request.params.id), request.account.id))) throw imageNotFound()
      return reply.code(204).send(null)
    },
  )
}

export default deleteImage
