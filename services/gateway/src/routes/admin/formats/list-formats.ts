import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { adminErrorResponses, RenditionFormatResource, toRenditionFormatResource } from '../schemas.js'

const listFormats: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/formats',
    {
      schema: {
        tags: ['admin'],
        summary: 'The rendition formats (WebP, AVIF) thumbnails are made in next to their source format, and how',
        security: [{ bearerAuth: [] }],
        response: { 200: Type.Object({ formats: Type.Array(RenditionFormatResource) }), ...adminErrorResponses(503) },
      },
    },
    async () => ({ formats: (await app.repos.renditionFormats.list()).map(toRenditionFormatResource) }),
  )
}

export default listFormats
