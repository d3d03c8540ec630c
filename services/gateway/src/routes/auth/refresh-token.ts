import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import type { TokenClaims } from '../../plugins/app/authenticate.js'
import { requiredFieldErrors } from './obtain-token.js'

export const REFRESH_NOT_VALID = { detail: 'Token is invalid or expired', code: 'token_not_valid' }

const refreshToken: FastifyPluginAsyncTypebox<{ perIp: number }> = async (app, limits) => {
  app.post(
    '/api/token/refresh/',
    {
      preHandler: app.rateLimited({ name: 'login-ip', limit: limits.perIp, key: (request) => request.ip }),
      // as the token route: DRF's shapes, the body checked by the handler
      config: { errorShape: 'drf', requiredFields: ['refresh'] },
      validatorCompiler: () => () => true,
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for a new access token',
        body: Type.Object({ refresh: Type.Optional(Type.Unknown()) }),
        response: {
          200: Type.Object({ access: Type.String() }),
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
      const body = request.body as Record<string, unknown>
      let claims: TokenClaims
      try {
        claims = app.jwt.verify<TokenClaims>(String(body.refresh))
      } catch {
        return reply.code(401).send(REFRESH_NOT_VALID)
      }
      if (claims.typ !== 'refresh') return reply.code(401).send(REFRESH_NOT_VALID)
      const account = /^[0-9a-f-]{36}$/i.test(claims.sub) ? await app.repos.users.findWithTier(claims.sub) : undefined
      if (!account || !account.is_active) return reply.code(401).send(REFRESH_NOT_VALID)
      return { access: app.issueAccessToken(account.id) }
    },
  )
}

export default refreshToken
