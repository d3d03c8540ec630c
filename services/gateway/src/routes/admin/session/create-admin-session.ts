import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ADMIN_COOKIE_PATH } from '../../../plugins/app/require-admin.js'
import { adminErrorResponses } from '../schemas.js'

const createAdminSession: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/admin/session',
    {
      schema: {
        tags: ['admin'],
        summary: 'Let this browser open the queue dashboard',
        description: `Sets an HttpOnly, SameSite=Strict cookie, sent only to ${ADMIN_COOKIE_PATH} and valid as long as an access token; the admin console calls this after signing in and after each refresh.`,
        security: [{ bearerAuth: [] }],
        response: { 204: Type.Null({ description: 'Cookie set' }), ...adminErrorResponses(503) },
      },
    },
    async (request, reply) => {
      app.setAdminCookie(request, reply, request.account.id)
      return reply.code(204).send(null)
    },
  )
}

export default createAdminSession
