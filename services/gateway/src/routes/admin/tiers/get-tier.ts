import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { findTier } from '@imageapi/accounts'
import { adminErrorResponses, AdminTier, TierIdParams, toAdminTier } from '../schemas.js'

const getTier: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/tiers/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'One tier',
        security: [{ bearerAuth: [] }],
        params: TierIdParams,
        response: { 200: AdminTier, ...adminErrorResponses(400, 404, 503) },
      },
    },
    async (request) => toAdminTier(await findTier(app.repos, request.params.id)),
  )
}

export default getTier
