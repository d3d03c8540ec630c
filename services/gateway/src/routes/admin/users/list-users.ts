import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { listAccounts } from '@imageapi/accounts'
import { ApiError } from '../../../plugins/app/errors.js'
import { adminErrorResponses, AdminUser, toAdminUser } from '../schemas.js'

/** Cursors are opaque to clients; inside, the email of the last user seen. */
export function encodeUserCursor(email: string): string {
  return Buffer.from(`e:${email}`).toString('base64url')
}

export function decodeUserCursor(cursor: string): string {
  // eslint-disable-next-line no-control-regex
  const match = /^e:([^\u0000]{1,254})$/s.exec(Buffer.from(cursor, 'base64url').toString())
  if (!match) throw new ApiError(400, 'cursor is not one this API returned', 'cursor')
  return match[1]!
}

const listUsers: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'List users in email order, optionally one tier’s or those whose email contains a text',
        description: 'Keyset pagination: pass `next_cursor` from a page as `cursor` to get the next one.',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ maxLength: 400 })),
          tier: Type.Optional(Type.String({ maxLength: 200, description: 'Tier name; case is ignored (basic finds Basic)' })),
          email: Type.Optional(Type.String({ maxLength: 254, description: 'Text the email contains (case ignored)' })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(AdminUser), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
          ...adminErrorResponses(400, 503),
        },
      },
    },
    async (request) => {
      const { limit, cursor, tier, email } = request.query
      const page = await listAccounts(app.repos, {
        limit,
        ...(cursor !== undefined ? { after: decodeUserCursor(cursor) } : {}),
        ...(tier ? { tierName: tier } : {}),
        ...(email ? { email } : {}),
      })
      return { items: page.users.map(toAdminUser), next_cursor: page.nextAfterEmail === null ? null : encodeUserCursor(page.nextAfterEmail) }
    },
  )
}

export default listUsers
