import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { adminErrorResponses } from '../schemas.js'

const deleteAdminSession: FastifyPluginAsyncTypebox = async (app) => {
  app.delete(
    '/api/admin/session',
    {
      schema: {
        tags: ['admin'],
        summary: 'Forget the queue dashboard cookie (signing out of the console)',
        security: [{ bearerAuth: [] }],
        response: { 204: Type.Null({ description: 'Cookie cleared' }), ...adminErrorResponses(503) },
      },
    },
    async (_request, reply) => {
      app.clearAdminCookie(reply)
      return reply.code(204).send(null)
    },
  )
}

export default deleteAdminSession
