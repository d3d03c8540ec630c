import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { requestTierBackfill } from '@imageapi/accounts'
import { startedBackfill } from '../../../services/backfills.js'
import { adminErrorResponses, MaybeBackfill } from '../schemas.js'

const createBackfill: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/admin/backfills',
    {
      schema: {
        tags: ['admin'],
        summary: 'Make every thumbnail a tier grants that its users’ images lack',
        description: 'Repairs what a change left out. 201 with the backfill, or 200 with `backfill: null` when nothing is missing.',
        security: [{ bearerAuth: [] }],
        body: Type.Object({ tier: Type.String({ maxLength: 200, description: 'Tier name; case is ignored (basic finds Basic)' }) }),
        response: { 200: Type.Object({ backfill: MaybeBackfill }), 201: Type.Object({ backfill: MaybeBackfill }), ...adminErrorResponses(400, 503) },
      },
    },
    async (request, reply) => {
      const { backfill } = await requestTierBackfill(app.repos, request.body.tier)
      const started = await startedBackfill(app, backfill)
      return reply.code(started ? 201 : 200).send({ backfill: started })
    },
  )
}

export default createBackfill
