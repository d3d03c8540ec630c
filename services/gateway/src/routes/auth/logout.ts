import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { requiredFieldErrors } from './obtain-token.js'
import { REFRESH_NOT_VALID, refreshSubject } from './refresh-token.js'
import { noStore } from './no-store.js'

/**
 * Logout, in the shapes of simplejwt's blacklist view (`POST /api/token/blacklist/`): the refresh
 * token in the body, 200 `{}` once its session is ended, 401 token_not_valid otherwise.
 */
const logout: FastifyPluginAsyncTypebox<{ perIp: number; perUser?: number }> = async (app, limits) => {
  app.post(
    '/api/token/logout/',
    {
      // a budget apart from logins' (a login attack from an address leaves refresh there alone); per
      // user: the subject of a refresh token that verifies (a forged one counts for no one)
      preHandler: app.rateLimited(
        { name: 'refresh-ip', limit: limits.perIp, key: (request) => request.ip },
        { name: 'refresh-user', limit: limits.perUser ?? 0, key: (request) => refreshSubject(app, request.body) },
      ),
      config: { errorShape: 'drf', requiredFields: ['refresh'] },
      validatorCompiler: () => () => true,
      onSend: noStore,
      schema: {
        tags: ['auth'],
        summary: 'Log out: end the session of a refresh token',
        description:
          'Ends the session the refresh token belongs to: its refresh tokens answer 401 from then on, and its access tokens stop working when they expire (at most the access token lifetime). ' +
          'Answers 200 `{}` as simplejwt\'s blacklist view does; a token that is not valid, or whose session has ended already, answers 401. Answers carry `Cache-Control: no-store`.',
        body: Type.Object({ refresh: Type.Optional(Type.Unknown()) }, { examples: [{ refresh: 'eyJ…' }] }),
        response: {
          200: Type.Object({}, { description: 'The session is ended' }),
          400: Type.Union([Type.Record(Type.String(), Type.Array(Type.String())), Type.Object({ detail: Type.String() })]),
          401: Type.Object({ detail: Type.String(), code: Type.String() }),
          405: Type.Object({ detail: Type.String() }),
          415: Type.Object({ detail: Type.String() }),
          429: Type.Ref('Error'),
        },
      },
    },
    async (request, reply) => {
      const errors = requiredFieldErrors(request.body, ['refresh'])
      if (errors) return reply.code(400).send(errors)
      const claims = app.verifyRefreshToken(String((request.body as Record<string, unknown>).refresh))
      if (!claims) return reply.code(401).send(REFRESH_NOT_VALID)
      const ended = await app.repos.sessions.end(claims.sid, claims.sub, 'logout', new Date(app.clock()))
      if (!ended) return reply.code(401).send(REFRESH_NOT_VALID)
      return {}
    },
  )
}

export default logout
