import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { updateAccount } from '@imageapi/accounts'
import { startedBackfill } from '../../../services/backfills.js'
import { adminErrorResponses, AdminUser, MaybeBackfill, toAdminUser, UserIdParams } from '../schemas.js'
import { userFields } from './user-body.js'

const updateUser: FastifyPluginAsyncTypebox = async (app) => {
  app.patch(
    '/api/admin/users/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Change a user: email, password, tier, admin rights, active',
        description:
          "Moving a user to another tier makes the new tier's heights for every image they have, as low-priority work; `backfill` tracks it. The last active admin cannot lose admin rights or be deactivated (409).",
        security: [{ bearerAuth: [] }],
        params: UserIdParams,
        body: Type.Partial(Type.Object(userFields)),
        response: { 200: Type.Object({ user: AdminUser, backfill: MaybeBackfill }), ...adminErrorResponses(400, 404, 409, 503) },
      },
    },
    async (request) => {
      const { email, password, tier, is_admin, is_active } = request.body
      const { user, backfill } = await updateAccount(app.repos, request.params.id, {
        ...(email !== undefined ? { email } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(tier !== undefined ? { tierName: tier } : {}),
        ...(is_admin !== undefined ? { isAdmin: is_admin } : {}),
        ...(is_active !== undefined ? { isActive: is_active } : {}),
      })
      return { user: toAdminUser(user), backfill: await startedBackfill(app, backfill) }
    },
  )
}

export default updateUser
