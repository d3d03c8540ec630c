import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { imageNotFound, parseImageId } from '../images/get-image.js'
import { errorResponses, ExpiringLinkResource, ImageIdParams } from '../schemas.js'
import { toExpiringLinkResource } from '../../services/expiring-links.js'

const listExpiringLinks: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/images/:id/links',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['links'],
        summary: 'The live (unexpired, unrevoked) expiring links of your image',
        security: [{ bearerAuth: [] }],
        params: ImageIdParams,
        response: { 200: Type.Object({ items: Type.Array(ExpiringLinkResource) }), ...errorResponses(401, 404, 503) },
      },
    },
    async (request) => {
      const image = await app.repos.images.findByOwner(parseImageId(request.params.id), request.account.id)
      if (!image) throw imageNotFound()
      const links = await app.repos.links.listLive(image.id, new Date(app.clock()))
      return { items: links.map((link) => toExpiringLinkResource(app, request, link)) }
    },
  )
}

export default listExpiringLinks
