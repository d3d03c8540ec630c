import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { findAccount } from '@imageapi/accounts'
import { adminErrorResponses, AdminUser, toAdminUser, UserIdParams } from '../schemas.js'

const getUser: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/users/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'One user',
        security: [{ bearerAuth: [] }],
        params: UserIdParams,
        response: { 200: AdminUser, ...adminErrorResponses(404, 503) },
      },
    },
    async (request) => toAdminUser(await findAccount(app.repos, request.params.id)),
  )
}

export default getUser
