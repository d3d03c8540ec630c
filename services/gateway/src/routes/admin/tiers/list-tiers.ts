import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { adminErrorResponses, AdminTier, toAdminTier } from '../schemas.js'

const listTiers: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/tiers',
    {
      schema: {
        tags: ['admin'],
        summary: 'Every tier, with how many users are on it',
        security: [{ bearerAuth: [] }],
        response: { 200: Type.Object({ items: Type.Array(AdminTier) }), ...adminErrorResponses(503) },
      },
    },
    async () => ({ items: (await app.repos.tiers.listWithUsers()).map(toAdminTier) }),
  )
}

export default listTiers
