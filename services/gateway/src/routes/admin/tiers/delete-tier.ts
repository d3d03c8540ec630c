import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { deleteTier } from '@imageapi/accounts'
import { adminErrorResponses, TierIdParams } from '../schemas.js'

const deleteTierRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.delete(
    '/api/admin/tiers/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Delete a tier nobody is on',
        description: 'A tier that users are still on is not deleted: 409, saying how many. Move them first.',
        security: [{ bearerAuth: [] }],
        params: TierIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...adminErrorResponses(400, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      await deleteTier(app.repos, request.params.id)
      return reply.code(204).send(null)
    },
  )
}

export default deleteTierRoute
