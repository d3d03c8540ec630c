import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { findAccount } from '@imageapi/accounts'
import { adminErrorResponses, UserIdParams } from '../schemas.js'

const signOutUser: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/admin/users/:id/sign-out',
    {
      schema: {
        tags: ['admin'],
        summary: 'Sign a user out everywhere',
        description:
          'Ends every session of the user and voids every access and refresh token issued to them so far, at once (their token version is bumped). ' +
          'They can sign in again with their password; change it too (PATCH) when it may be known to someone else. `sessions_ended` counts the sessions that were still open.',
        security: [{ bearerAuth: [] }],
        params: UserIdParams,
        response: { 200: Type.Object({ sessions_ended: Type.Integer({ minimum: 0 }) }), ...adminErrorResponses(404, 503) },
      },
    },
    async (request) => {
      const user = await findAccount(app.repos, request.params.id)
      // the version first: from this moment no token issued before works, whatever the sessions say
      await app.repos.users.bumpTokenVersion(user.id)
      const sessionsEnded = await app.repos.sessions.endAllForUser(user.id, 'signed_out_everywhere', new Date(app.clock()))
      request.log.info({ userId: user.id, sessionsEnded }, 'user signed out everywhere')
      return { sessions_ended: sessionsEnded }
    },
  )
}

export default signOutUser
