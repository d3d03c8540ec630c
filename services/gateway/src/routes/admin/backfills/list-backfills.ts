import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { adminErrorResponses, BackfillResource, toBackfillResource } from '../schemas.js'

const listBackfills: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/backfills',
    {
      schema: {
        tags: ['admin'],
        summary: 'The latest backfills, newest first, with their progress',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }) }),
        response: { 200: Type.Object({ items: Type.Array(BackfillResource) }), ...adminErrorResponses(400, 503) },
      },
    },
    async (request) => ({ items: (await app.repos.backfills.listRecent(request.query.limit)).map(toBackfillResource) }),
  )
}

export default listBackfills
