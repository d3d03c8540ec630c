import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { TokenClaims } from './authenticate.js'
import { errorBody } from './errors.js'

/** The cookie the admin console sets so a browser can open the queue dashboard, which sends no Authorization header. */
export const ADMIN_COOKIE = 'imageapi_admin'
/** The only path the cookie is sent to: it opens nothing else. */
export const ADMIN_COOKIE_PATH = '/admin/queues'

declare module 'fastify' {
  interface FastifyInstance {
    /** Runs after authenticate: 403 unless the account is an admin. */
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /** For pages a browser opens: 401 without a valid admin cookie, 403 when its user is no (longer an) admin. */
    authenticateAdminCookie(request: FastifyRequest, reply: FastifyReply): Promise<void>
    setAdminCookie(request: FastifyRequest, reply: FastifyReply, userId: string): void
    clearAdminCookie(reply: FastifyReply): void
  }
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const pair of header?.split(';') ?? []) {
    const [key, ...value] = pair.trim().split('=')
    if (key === name) return value.join('=')
  }
  return undefined
}

/**
 * The admin check, for tokens and for the console's cookie. The cookie holds its own kind of
 * token (typ "admin-cookie"): it is useless against the API, HttpOnly, SameSite=Strict (no other
 * site can make a browser send it) and lives as long as an access token.
 */
export default fp<{ cookieTtlSeconds: number }>(
  async (app, options) => {
    const forbidden = (reply: FastifyReply) => reply.code(403).send(errorBody(403, 'this needs an admin account'))

    app.decorate('requireAdmin', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!request.account?.is_admin) return forbidden(reply)
    })

    app.decorate('setAdminCookie', (request: FastifyRequest, reply: FastifyReply, userId: string) => {
      const token = app.jwt.sign({ sub: userId, typ: 'admin-cookie' }, { expiresIn: options.cookieTtlSeconds })
      const secure = request.protocol === 'https' ? '; Secure' : ''
      reply.header('set-cookie', `${ADMIN_COOKIE}=${token}; Path=${ADMIN_COOKIE_PATH}; Max-Age=${options.cookieTtlSeconds}; HttpOnly; SameSite=Strict${secure}`)
    })

    app.decorate('clearAdminCookie', (reply: FastifyReply) => {
      reply.header('set-cookie', `${ADMIN_COOKIE}=; Path=${ADMIN_COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict`)
    })

    app.decorate('authenticateAdminCookie', async (request: FastifyRequest, reply: FastifyReply) => {
      const token = readCookie(request.headers.cookie, ADMIN_COOKIE)
      let claims: TokenClaims | undefined
      try {
        claims = token ? app.jwt.verify<TokenClaims>(token) : undefined
      } catch {
        claims = undefined
      }
      if (claims?.typ !== 'admin-cookie' || typeof claims.sub !== 'string') {
        return reply.code(401).send(errorBody(401, 'sign in to the admin console at /admin first'))
      }
      const account = await app.repos.users.findWithTier(claims.sub)
      if (!account?.is_active || !account.is_admin) return forbidden(reply)
      request.account = account
    })
  },
  { name: 'require-admin', dependencies: ['authenticate'] },
)
