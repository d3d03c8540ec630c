import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ApiError } from '../../plugins/app/errors.js'
import { toImageResources } from '../../services/image-resource.js'
import { errorResponses, ImageResource } from '../schemas.js'

/** Cursors are opaque to clients; inside, the position of the last image seen. */
export function encodeCursor(afterSeq: number): string {
  return Buffer.from(`s:${afterSeq}`).toString('base64url')
}

export function decodeCursor(cursor: string): number {
  const match = /^s:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!match) throw new ApiError(400, 'cursor is not one this API returned', 'cursor')
  return Number(match[1])
}

const listImages: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/images',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['images'],
        summary: 'List your images, newest first',
        description: 'Keyset pagination: pass `next_cursor` from a page as `cursor` to get the next one. Pages stay stable while images are added.',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(ImageResource), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errorResponses(400, 401, 503),
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query
      const page = await app.repos.images.listByOwner(request.account.id, {
        limit,
        ...(cursor !== undefined ? { afterSeq: decodeCursor(cursor) } : {}),
      })
      return {
        items: toImageResources(app, request, page.images, request.account.tier),
        next_cursor: page.nextAfterSeq === null ? null : encodeCursor(page.nextAfterSeq),
      }
    },
  )
}

export default listImages
