import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { createTier, type TierRules } from '@imageapi/accounts'
import { adminErrorResponses, AdminTier, toAdminTier } from '../schemas.js'
import { tierFields } from './tier-body.js'

const createTierRoute: FastifyPluginAsyncTypebox<{ tierRules: TierRules }> = async (app, options) => {
  const fields = tierFields(options.tierRules)
  app.post(
    '/api/admin/tiers',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a tier',
        security: [{ bearerAuth: [] }],
        body: Type.Object({
          name: fields.name,
          thumbnail_heights: fields.thumbnail_heights,
          original_link: Type.Optional(fields.original_link),
          expiring_links: Type.Optional(fields.expiring_links),
        }),
        response: { 201: AdminTier, ...adminErrorResponses(400, 409, 503) },
      },
    },
    async (request, reply) => {
      const { name, thumbnail_heights, original_link, expiring_links } = request.body
      const tier = await createTier(
        app.repos,
        { name, thumbnailHeights: thumbnail_heights, ...(original_link !== undefined ? { originalLink: original_link } : {}), ...(expiring_links !== undefined ? { expiringLinks: expiring_links } : {}) },
        options.tierRules,
      )
      return reply.code(201).header('location', `/api/admin/tiers/${tier.id}`).send(toAdminTier(tier))
    },
  )
}

export default createTierRoute
