import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { updateTier, type TierRules } from '@imageapi/accounts'
import { adminErrorResponses, AdminTier, MaybeBackfill, TierIdParams, toAdminTier } from '../schemas.js'
import { startedBackfill } from '../../../services/backfills.js'
import { tierFields } from './tier-body.js'

const updateTierRoute: FastifyPluginAsyncTypebox<{ tierRules: TierRules }> = async (app, options) => {
  const fields = tierFields(options.tierRules)
  app.patch(
    '/api/admin/tiers/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Change a tier (built-in ones too)',
        description:
          "New heights are made for every image of the tier's users, as low-priority work that never delays uploads; `backfill` tracks it. Dropped heights disappear from listings and links at once; their files are kept (hidden) so granting them again is instant.",
        security: [{ bearerAuth: [] }],
        params: TierIdParams,
        body: Type.Partial(Type.Object(fields)),
        response: { 200: Type.Object({ tier: AdminTier, backfill: MaybeBackfill }), ...adminErrorResponses(400, 404, 409, 503) },
      },
    },
    async (request) => {
      const { name, thumbnail_heights, original_link, expiring_links } = request.body
      const { tier, backfill } = await updateTier(
        app.repos,
        request.params.id,
        {
          ...(name !== undefined ? { name } : {}),
          ...(thumbnail_heights !== undefined ? { thumbnailHeights: thumbnail_heights } : {}),
          ...(original_link !== undefined ? { originalLink: original_link } : {}),
          ...(expiring_links !== undefined ? { expiringLinks: expiring_links } : {}),
        },
        options.tierRules,
      )
      return { tier: toAdminTier(tier), backfill: await startedBackfill(app, backfill) }
    },
  )
}

export default updateTierRoute
