import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { createAccount, findAccount } from '@imageapi/accounts'
import { adminErrorResponses, AdminUser, toAdminUser } from '../schemas.js'
import { userFields } from './user-body.js'

const createUser: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/admin/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a user on a tier',
        security: [{ bearerAuth: [] }],
        body: Type.Object({ email: userFields.email, password: userFields.password, tier: userFields.tier, is_admin: Type.Optional(userFields.is_admin) }),
        response: { 201: AdminUser, ...adminErrorResponses(400, 409, 503) },
      },
    },
    async (request, reply) => {
      const { email, password, tier, is_admin } = request.body
      const user = await createAccount(app.repos, { email, password, tierName: tier, isAdmin: is_admin ?? false })
      return reply.code(201).header('location', `/api/admin/users/${user.id}`).send(toAdminUser(await findAccount(app.repos, user.id)))
    },
  )
}

export default createUser
