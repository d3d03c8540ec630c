import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { verifyPassword } from '@imageapi/accounts'

// The shapes the API we replace answers with; its clients depend on them.
export const BAD_CREDENTIALS = { detail: 'No active account found with the given credentials' }
const FIELD_REQUIRED = 'This field is required.'
const FIELD_BLANK = 'This field may not be blank.'

const TokenPair = Type.Object({ refresh: Type.String(), access: Type.String() })
const FieldErrors = Type.Record(Type.String(), Type.Array(Type.String()), { description: 'Messages by field' })
const Detail = Type.Object({ detail: Type.String() })

/** Field-keyed messages in the style of the API we replace; undefined when the fields are present. */
export function requiredFieldErrors(body: Record<string, unknown>, names: string[]): Record<string, string[]> | undefined {
  const errors: Record<string, string[]> = {}
  for (const name of names) {
    const value = body[name]
    if (value === undefined || value === null) errors[name] = [FIELD_REQUIRED]
    else if (typeof value !== 'string') errors[name] = ['Not a valid string.']
    else if (value.trim() === '') errors[name] = [FIELD_BLANK]
  }
  return Object.keys(errors).length > 0 ? errors : undefined
}

export interface LoginLimits {
  perIp: number
  perEmail: number
}

const obtainToken: FastifyPluginAsyncTypebox<LoginLimits> = async (app, limits) => {
  app.post(
    '/api/token/',
    {
      preHandler: app.rateLimited(
        { name: 'login-ip', limit: limits.perIp, key: (request) => request.ip },
        {
          name: 'login-email',
          limit: limits.perEmail,
          key: (request) => {
            const email = (request.body as { email?: unknown } | undefined)?.email
            return typeof email === 'string' ? email.trim().toLowerCase().slice(0, 254) : undefined
          },
        },
      ),
      schema: {
        tags: ['auth'],
        summary: 'Exchange email and password for an access and a refresh token',
        body: Type.Object({ email: Type.Optional(Type.Unknown()), password: Type.Optional(Type.Unknown()) }, { examples: [{ email: 'user@example.com', password: 'secret' }] }),
        response: { 200: TokenPair, 400: FieldErrors, 401: Detail, 429: Type.Ref('Error') },
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>
      const errors = requiredFieldErrors(body, ['email', 'password'])
      if (errors) return reply.code(400).send(errors)
      const user = await app.repos.users.findByEmail(String(body.email).trim())
      // the password is checked even without a user, so a miss costs the same time as a hit
      const passwordOk = await verifyPassword(user?.password_hash, String(body.password))
      if (!user || !passwordOk || !user.is_active) return reply.code(401).send(BAD_CREDENTIALS)
      return app.issueTokens(user.id)
    },
  )
}

export default obtainToken
