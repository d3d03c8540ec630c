import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ApiError } from '../../plugins/app/errors.js'
import { errorResponses } from '../schemas.js'
import { UUID } from '../../schemas/ids.js'


/** Someone else's session and no session at all look the same from outside. */
function sessionNotFound(): ApiError {
  return new ApiError(404, 'session not found')
}

const endSession: FastifyPluginAsyncTypebox = async (app) => {
  app.delete(
    '/api/sessions/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['sessions'],
        summary: 'End one of your sessions (sign out that device)',
        description:
          'Its refresh tokens answer 401 from then on; its access tokens stop working when they expire (at most the access token lifetime). ' +
          'To void every token at once, change the password (or ask an admin to sign you out everywhere). Another user\'s session, or one already ended, answers 404.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: Type.String({ description: 'Session id' }) }),
        response: { 204: Type.Null({ description: 'The session is ended' }), ...errorResponses(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      if (!UUID.test(id)) throw sessionNotFound()
      const ended = await app.repos.sessions.end(id.toLowerCase(), request.account.id, 'revoked', new Date(app.clock()))
      if (!ended) throw sessionNotFound()
      return reply.code(204).send(null)
    },
  )
}

export default endSession
