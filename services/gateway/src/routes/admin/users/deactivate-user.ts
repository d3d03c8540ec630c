import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { updateAccount } from '@imageapi/accounts'
import { adminErrorResponses, AdminUser, toAdminUser, UserIdParams } from '../schemas.js'

const deactivateUser: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/admin/users/:id/deactivate',
    {
      schema: {
        tags: ['admin'],
        summary: 'Deactivate a user',
        description: 'They can no longer sign in; their tokens and their images’ links stop working at once. Undo with PATCH `{"is_active": true}`.',
        security: [{ bearerAuth: [] }],
        params: UserIdParams,
        response: { 200: AdminUser, ...adminErrorResponses(404, 409, 503) },
      },
    },
    async (request) => toAdminUser((await updateAccount(app.repos, request.params.id, { isActive: false })).user),
  )
}

export default deactivateUser
