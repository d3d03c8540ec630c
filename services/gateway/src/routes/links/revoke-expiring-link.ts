import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ApiError } from '../../plugins/app/errors.js'
import { errorResponses } from '../schemas.js'
import { UUID } from '../../schemas/ids.js'


const revokeExpiringLink: FastifyPluginAsyncTypebox = async (app) => {
  app.delete(
    '/api/links/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['links'],
        summary: 'Revoke one of your expiring links; its URL stops opening at once',
        description:
          'Idempotent: 204 for any link of yours, live, expired or already revoked (it keeps its first revocation time); 404 only for a link that is not yours or does not exist. The links service caches link checks for at most LINK_CHECK_CACHE_MS (default 2 s): that is the longest a revoked link can still open.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: Type.String() }),
        response: { 204: Type.Null({ description: 'Revoked' }), ...errorResponses(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const id = request.params.id
      const revoked = UUID.test(id) && (await app.repos.links.revokeForOwner(id.toLowerCase(), request.account.id, new Date(app.clock())))
      if (!revoked) throw new ApiError(404, 'link not found')
      return reply.code(204).send(null)
    },
  )
}

export default revokeExpiringLink
