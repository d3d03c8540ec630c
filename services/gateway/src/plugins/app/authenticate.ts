import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { UserWithTier } from '@imageapi/db'

/**
 * Claims of our JWTs: `typ` keeps a refresh token from passing for an access token, and back
 * (and the admin console's cookie, see require-admin.ts, from passing for either).
 */
export interface TokenClaims {
  sub: string
  typ: 'access' | 'refresh' | 'admin-cookie'
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenClaims
    user: TokenClaims
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: answers 401 unless the request carries a valid access token of an active user. */
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>
    issueTokens(userId: string): { access: string; refresh: string }
    issueAccessToken(userId: string): string
  }
  interface FastifyRequest {
    account: UserWithTier
  }
}

// Bodies and header as the API we replace sends them (simplejwt over DRF): its clients parse them.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const WWW_AUTHENTICATE = 'Bearer realm="api"'
export const NOT_AUTHENTICATED = { detail: 'Authentication credentials were not provided.' }
export const TOKEN_NOT_VALID = {
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }],
}
export const USER_NOT_FOUND = { detail: 'User not found', code: 'user_not_found' }
export const USER_INACTIVE = { detail: 'User is inactive', code: 'user_inactive' }

export default fp<{ accessTtlSeconds: number; refreshTtlSeconds: number }>(
  async (app, options) => {
    app.decorateRequest('account', null as unknown as UserWithTier)

    app.decorate('issueAccessToken', (userId: string) =>
      app.jwt.sign({ sub: userId, typ: 'access' }, { expiresIn: options.accessTtlSeconds }),
    )
    app.decorate('issueTokens', (userId: string) => ({
      access: app.issueAccessToken(userId),
      refresh: app.jwt.sign({ sub: userId, typ: 'refresh' }, { expiresIn: options.refreshTtlSeconds }),
    }))

    app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
      const header = request.headers.authorization
      const [scheme, token, extra] = header?.split(' ') ?? []
      if (scheme?.toLowerCase() !== 'bearer' || !token || extra !== undefined) {
        return reply.code(401).header('www-authenticate', WWW_AUTHENTICATE).send(NOT_AUTHENTICATED)
      }
      let claims: TokenClaims
      try {
        claims = app.jwt.verify<TokenClaims>(token)
      } catch {
        return reply.code(401).header('www-authenticate', WWW_AUTHENTICATE).send(TOKEN_NOT_VALID)
      }
      if (claims.typ !== 'access' || typeof claims.sub !== 'string' || !UUID.test(claims.sub)) {
        return reply.code(401).header('www-authenticate', WWW_AUTHENTICATE).send(TOKEN_NOT_VALID)
      }
      // Read on every request: deactivation and tier changes take effect at once.
      const account = await app.repos.users.findWithTier(claims.sub)
      if (!account) return reply.code(401).header('www-authenticate', WWW_AUTHENTICATE).send(USER_NOT_FOUND)
      if (!account.is_active) return reply.code(401).header('www-authenticate', WWW_AUTHENTICATE).send(USER_INACTIVE)
      request.account = account
    })
  },
  { name: 'authenticate', dependencies: ['jwt', 'database'] },
)
