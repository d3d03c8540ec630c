import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { updateAccount } from '@imageapi/accounts'
import { Type } from '@fastify/type-provider-typebox'
import { adminErrorResponses, AdminUser, toAdminUser, UserIdParams } from '../schemas.js'

const deactivateUser: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/admin/users/:id/deactivate',
    {
      schema: {
        tags: ['admin'],
        summary: 'Deactivate a user',
        description:
          'They can no longer sign in; their tokens and their images’ links stop working at once. Undo with PATCH `{"is_active": true}`. Answers as PATCH does, `{"user", "backfill"}`; a deactivation owes no thumbnails, so `backfill` is always null.',
        security: [{ bearerAuth: [] }],
        params: UserIdParams,
        response: { 200: Type.Object({ user: AdminUser, backfill: Type.Null() }), ...adminErrorResponses(404, 409, 503) },
      },
    },
    async (request) => ({ user: toAdminUser((await updateAccount(app.repos, request.params.id, { isActive: false })).user), backfill: null }),
  )
}

export default deactivateUser
