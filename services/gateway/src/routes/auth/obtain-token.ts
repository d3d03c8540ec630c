import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { verifyPassword } from '@imageapi/accounts'
import { noStore } from './no-store.js'

// The shapes the API we replace answers with; its clients depend on them.
export const BAD_CREDENTIALS = { detail: 'No active account found with the given credentials' }
const FIELD_REQUIRED = 'This field is required.'
const FIELD_BLANK = 'This field may not be blank.'

const TokenPair = Type.Object({ refresh: Type.String(), access: Type.String() })
const FieldErrors = Type.Record(Type.String(), Type.Array(Type.String()), { description: 'Messages by field' })
const Detail = Type.Object({ detail: Type.String() })

/** Python's names for the JSON types, as DRF's messages use them. */
function pythonTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'list'
  if (typeof value === 'string') return 'str'
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float'
  return typeof value
}

/**
 * Field-keyed messages in the style of the API we replace; undefined when the fields are present.
 * No body at all reads as no fields (as DRF reads it); a body that is not an object is refused as DRF refuses it.
 */
export function requiredFieldErrors(body: unknown, names: string[]): Record<string, string[]> | undefined {
  if (body === null) return { non_field_errors: ['No data provided'] }
  if (body !== undefined && (typeof body !== 'object' || Array.isArray(body))) {
    return { non_field_errors: [`Invalid data. Expected a dictionary, but got ${pythonTypeName(body)}.`] }
  }
  const fields = (body ?? {}) as Record<string, unknown>
  const errors: Record<string, string[]> = {}
  for (const name of names) {
    const value = fields[name]
    if (value === undefined || value === null) errors[name] = [FIELD_REQUIRED]
    else if (typeof value !== 'string') errors[name] = ['Not a valid string.']
    else if (value.trim() === '') errors[name] = [FIELD_BLANK]
  }
  return Object.keys(errors).length > 0 ? errors : undefined
}

export interface LoginLimits {
  perIp: number
  perEmail: number
  slowAfter?: number
}

/** The email a login tries, as the limits count it. */
const loginEmail = (request: FastifyRequest) => {
  const email = (request.body as { email?: unknown } | undefined)?.email
  return typeof email === 'string' ? email.trim().toLowerCase().slice(0, 254) : undefined
}

const obtainToken: FastifyPluginAsyncTypebox<LoginLimits> = async (app, limits) => {
  // failures only, per address and per (address, email); slowed, then blocked (plugins/app/rate-limits.ts)
  const guard = app.loginLimited({ perAddress: limits.perIp, perAddressAndEmail: limits.perEmail, slowAfter: limits.slowAfter ?? 5, email: loginEmail })
  app.post(
    '/api/token/',
    {
      preHandler: guard.preHandler,
      // DRF's shapes for every error, and its reading of the body: checked by the handler, so that no
      // body, or one that is not an object, answers field errors as there rather than "body must be object"
      config: { errorShape: 'drf', requiredFields: ['email', 'password'] },
      validatorCompiler: () => () => true,
      onSend: [noStore, guard.onSend],
      schema: {
        tags: ['auth'],
        summary: 'Exchange email and password for an access and a refresh token',
        description:
          'Starts a session (listed by `GET /api/sessions`): the refresh token belongs to it, and rotates on each refresh. Answers carry `Cache-Control: no-store`.',
        body: Type.Object({ email: Type.Optional(Type.Unknown()), password: Type.Optional(Type.Unknown()) }, { examples: [{ email: 'user@example.com', password: 'secret' }] }),
        response: { 200: TokenPair, 400: Type.Union([FieldErrors, Detail]), 401: Detail, 405: Detail, 415: Detail, 429: Type.Ref('Error') },
      },
    },
    async (request, reply) => {
      const errors = requiredFieldErrors(request.body, ['email', 'password'])
      if (errors) return reply.code(400).send(errors)
      const body = request.body as Record<string, unknown>
      const user = await app.repos.users.findByEmail(String(body.email).trim())
      // the password is checked even without a user, so a miss costs the same time as a hit
      const passwordOk = await verifyPassword(user?.password_hash, String(body.password))
      if (!user || !passwordOk || !user.is_active) return reply.code(401).send(BAD_CREDENTIALS)
      return app.startSession(user, request)
    },
  )
}

export default obtainToken
