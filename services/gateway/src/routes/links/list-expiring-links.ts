import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ApiError } from '../../plugins/app/errors.js'
import { imageNotFound, parseImageId } from '../images/get-image.js'
import { errorResponses, ExpiringLinkResource, ImageIdParams } from '../schemas.js'
import { toExpiringLinkResource } from '../../services/expiring-links.js'
import { UUID } from '../../schemas/ids.js'

/** Opaque to clients, in the style of /api/images' cursors; inside, the last link of the page. */
export function encodeLinkCursor(afterId: string): string {
  return Buffer.from(`l:${afterId}`).toString('base64url')
}

export function decodeLinkCursor(cursor: string): string {
  const match = /^l:(.+)$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!match || !UUID.test(match[1]!)) throw new ApiError(400, 'cursor is not one this API returned', 'cursor')
  return match[1]!
}

const listExpiringLinks: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/images/:id/links',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['links'],
        summary: 'The live (unexpired, unrevoked) expiring links of your image, newest first',
        description: 'Keyset pagination, as in `GET /api/images`: pass `next_cursor` from a page as `cursor` to get the next one; `null` on the last page.',
        security: [{ bearerAuth: [] }],
        params: ImageIdParams,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(ExpiringLinkResource), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query
      const afterId = cursor !== undefined ? decodeLinkCursor(cursor) : undefined
      const image = await app.repos.images.findByOwner(parseImageId(request.params.id), request.account.id)
      if (!image) throw imageNotFound()
      const page = await app.repos.links.listLivePage(image.id, new Date(app.clock()), { limit, ...(afterId !== undefined ? { afterId } : {}) })
      return {
        items: page.links.map((link) => toExpiringLinkResource(app, request, link)),
        next_cursor: page.nextAfterId === null ? null : encodeLinkCursor(page.nextAfterId),
      }
    },
  )
}

export default listExpiringLinks
