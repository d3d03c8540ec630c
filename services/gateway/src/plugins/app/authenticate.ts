import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { UserWithTier } from '@imageapi/db'
import { UUID } from '../../schemas/ids.js'

/**
 * Claims of our JWTs: `typ` keeps a refresh token from passing for an access token, and back
 * (and the admin console's cookie, see require-admin.ts, from passing for either).
 * `ver` is the user's token_version when the token was issued: bumped (password change,
 * deactivation, sign-out everywhere), it voids every token issued before. `sid` is the session
 * (a row) the token belongs to; a refresh token's `jti` is its own id, rotated on each refresh.
 */
export interface TokenClaims {
  sub: string
  typ: 'access' | 'refresh' | 'admin-cookie'
  ver?: number
  sid?: string
  jti?: string
}

/** A refresh token's claims once checked: every one present and well formed. */
export interface RefreshClaims {
  sub: string
  ver: number
  sid: string
  jti: string
}

/** What a token is issued for: the user's id and their current token version. */
export interface TokenSubject {
  id: string
  token_version: number
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
    /** Starts a session (a row, see routes/sessions) for the user: its first refresh token and an access token. */
    startSession(user: TokenSubject, request: FastifyRequest): Promise<{ refresh: string; access: string }>
    /** A refresh token for a session, with a new token id; `expiresAt` is when it stops working. */
    issueRefreshToken(user: TokenSubject, sessionId: string): { refresh: string; jti: string; expiresAt: Date }
    issueAccessToken(user: TokenSubject, sessionId: string): string
    /** The claims of a valid refresh token (signature, expiry, typ and claim shapes checked); undefined otherwise. */
    verifyRefreshToken(token: string): RefreshClaims | undefined
  }
  interface FastifyRequest {
    account: UserWithTier
    /** The session of the access token the request carries (null for a token from before sessions). */
    sessionId: string | null
  }
}

// Bodies and header as the API we replace sends them (simplejwt over DRF): its clients parse them.

export const WWW_AUTHENTICATE = 'Bearer realm="api"'
export const NOT_AUTHENTICATED = { detail: 'Authentication credentials were not provided.' }
export const TOKEN_NOT_VALID = {
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }],
}
export const USER_NOT_FOUND = { detail: 'User not found', code: 'user_not_found' }
export const USER_INACTIVE = { detail: 'User is inactive', code: 'user_inactive' }

/** Kept of a User-Agent header in a session row. */
const MAX_USER_AGENT = 512

export default fp<{ accessTtlSeconds: number; refreshTtlSeconds: number }>(
  async (app, options) => {
    app.decorateRequest('account', null as unknown as UserWithTier)
    app.decorateRequest('sessionId', null)

    app.decorate('issueAccessToken', (user: TokenSubject, sessionId: string) =>
      app.jwt.sign({ sub: user.id, typ: 'access', ver: user.token_version, sid: sessionId }, { expiresIn: options.accessTtlSeconds }),
    )
    app.decorate('issueRefreshToken', (user: TokenSubject, sessionId: string) => {
      const jti = randomUUID()
      const refresh = app.jwt.sign({ sub: user.id, typ: 'refresh', ver: user.token_version, sid: sessionId, jti }, { expiresIn: options.refreshTtlSeconds })
      return { refresh, jti, expiresAt: new Date(app.clock() + options.refreshTtlSeconds * 1000) }
    })
    app.decorate('startSession', async (user: TokenSubject, request: FastifyRequest) => {
      const jti = randomUUID()
      const userAgent = request.headers['user-agent']
      const session = await app.repos.sessions.create({
        userId: user.id,
        refreshJti: jti,
        expiresAt: new Date(app.clock() + options.refreshTtlSeconds * 1000),
        userAgent: typeof userAgent === 'string' && userAgent !== '' ? userAgent.slice(0, MAX_USER_AGENT) : null,
        address: request.ip ? request.ip.slice(0, 64) : null,
        now: new Date(app.clock()),
      })
      const refresh = app.jwt.sign({ sub: user.id, typ: 'refresh', ver: user.token_version, sid: session.id, jti }, { expiresIn: options.refreshTtlSeconds })
      return { refresh, access: app.issueAccessToken(user, session.id) }
    })
    app.decorate('verifyRefreshToken', (token: string): RefreshClaims | undefined => {
      let claims: TokenClaims
      try {
        claims = app.jwt.verify<TokenClaims>(token)
      } catch {
        return undefined
      }
      const { sub, typ, ver, sid, jti } = claims
      if (typ !== 'refresh' || typeof sub !== 'string' || !UUID.test(sub)) return undefined
      // a refresh token from before sessions (no sid/jti/ver) is refused: its holder signs in again
      if (!Number.isInteger(ver) || typeof sid !== 'string' || !UUID.test(sid) || typeof jti !== 'string' || !UUID.test(jti)) return undefined
      return { sub: sub.toLowerCase(), ver: ver as number, sid: sid.toLowerCase(), jti: jti.toLowerCase() }
    })

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
      // the token version, from the same row: a password change, deactivation or sign-out
      // everywhere bumped it, voiding every token issued before (a token without `ver` predates
      // versions and counts as version 0)
      if ((claims.ver ?? 0) !== account.token_version) {
        return reply.code(401).header('www-authenticate', WWW_AUTHENTICATE).send(TOKEN_NOT_VALID)
      }
      request.account = account
      request.sessionId = typeof claims.sid === 'string' && UUID.test(claims.sid) ? claims.sid.toLowerCase() : null
    })
  },
  { name: 'authenticate', dependencies: ['jwt', 'database'] },
)
