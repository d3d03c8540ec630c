import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ApiError } from '../../plugins/app/errors.js'
import { toImageResource } from '../../services/image-resource.js'
import { errorResponses, ImageIdParams, ImageResource } from '../schemas.js'
import { UUID } from '../../schemas/ids.js'


/** Someone else's image and no image at all look the same from outside. */
export function imageNotFound(): ApiError {
  return new ApiError(404, 'image not found')
}

export function parseImageId(id: string): string {
  if (!UUID.test(id)) throw imageNotFound()
  return id.toLowerCase()
}

const getImage: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/images/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['images'],
        summary: 'One of your images, with its links',
        security: [{ bearerAuth: [] }],
        params: ImageIdParams,
        response: { 200: ImageResource, ...errorResponses(401, 404, 503) },
      },
    },
    async (request) => {
      const image = await app.repos.images.findByOwner(parseImageId(request.params.id), request.account.id)
      if (!image) throw imageNotFound()
      return toImageResource(app, request, image, request.account.tier)
    },
  )
}

export default getImage
