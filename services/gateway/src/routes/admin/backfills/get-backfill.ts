import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ApiError } from '../../../plugins/app/errors.js'
import { adminErrorResponses, BackfillResource, toBackfillResource } from '../schemas.js'
import { UUID } from '../../../schemas/ids.js'


const getBackfill: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/backfills/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'How far a backfill got: `done`, `failed` and `total` thumbnails',
        description: 'Counted from the thumbnail rows the workers update; `finished` once nothing is pending.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: Type.String({ description: 'Backfill id' }) }),
        response: { 200: BackfillResource, ...adminErrorResponses(404, 503) },
      },
    },
    async (request) => {
      const backfill = UUID.test(request.params.id) ? await app.repos.backfills.find(request.params.id.toLowerCase()) : undefined
      if (!backfill) throw new ApiError(404, 'backfill not found')
      return toBackfillResource(backfill)
    },
  )
}

export default getBackfill
