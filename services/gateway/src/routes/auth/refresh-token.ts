import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { requiredFieldErrors } from './obtain-token.js'
import { noStore } from './no-store.js'

export const REFRESH_NOT_VALID = { detail: 'Token is invalid or expired', code: 'token_not_valid' }

/** The user of the body's refresh token when it verifies (signature, type, expiry), for the per-user limit. */
export function refreshSubject(app: FastifyInstance, body: unknown): string | undefined {
  const token = (body as { refresh?: unknown } | null | undefined)?.refresh
  return typeof token === 'string' ? app.verifyRefreshToken(token)?.sub : undefined
}

const refreshToken: FastifyPluginAsyncTypebox<{ perIp: number; perUser?: number }> = async (app, limits) => {
  app.post(
    '/api/token/refresh/',
    {
      // a budget apart from logins' (a login attack from an address leaves refresh there alone); per
      // user: the subject of a refresh token that verifies (a forged one counts for no one)
      preHandler: app.rateLimited(
        { name: 'refresh-ip', limit: limits.perIp, key: (request) => request.ip },
        { name: 'refresh-user', limit: limits.perUser ?? 0, key: (request) => refreshSubject(app, request.body) },
      ),
      // as the token route: DRF's shapes, the body checked by the handler
      config: { errorShape: 'drf', requiredFields: ['refresh'] },
      validatorCompiler: () => () => true,
      onSend: noStore,
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for a new access token and a new refresh token',
        description:
          'Rotates, as simplejwt does with ROTATE_REFRESH_TOKENS: the answer carries a new `refresh` beside `access`, and the refresh token sent is used up. ' +
          'Sending a used refresh token again (it was copied) ends its whole session: every token of it, the newest included, answers 401 from then on. ' +
          "A refresh token of an ended session (logout, revoked, password changed, deactivated, signed out everywhere) answers 401. Answers carry `Cache-Control: no-store`.",
        body: Type.Object({ refresh: Type.Optional(Type.Unknown()) }),
        response: {
          200: Type.Object({ access: Type.String(), refresh: Type.String() }),
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
      const claims = app.verifyRefreshToken(String(body.refresh))
      if (!claims) return reply.code(401).send(REFRESH_NOT_VALID)
      const account = await app.repos.users.findWithTier(claims.sub)
      // a password change, deactivation or sign-out everywhere bumped the version: every token before is void
      if (!account || !account.is_active || account.token_version !== claims.ver) return reply.code(401).send(REFRESH_NOT_VALID)
      const next = app.issueRefreshToken(account, claims.sid)
      const rotated = await app.repos.sessions.rotate({
        id: claims.sid,
        userId: account.id,
        fromJti: claims.jti,
        toJti: next.jti,
        expiresAt: next.expiresAt,
        now: new Date(app.clock()),
      })
      if (rotated.outcome === 'reused') {
        request.log.warn({ sessionId: claims.sid, userId: account.id }, 'a used refresh token was sent again: session ended')
      }
      if (rotated.outcome !== 'rotated') return reply.code(401).send(REFRESH_NOT_VALID)
      return { access: app.issueAccessToken(account, claims.sid), refresh: next.refresh }
    },
  )
}

export default refreshToken
