import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ApiError } from '../../plugins/app/errors.js'
import { errorResponses } from '../schemas.js'
import { UUID } from '../../schemas/ids.js'


export const SessionResource = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    created_at: Type.String({ format: 'date-time', description: 'When it was signed in' }),
    last_used_at: Type.String({ format: 'date-time', description: 'Its last refresh (or its sign-in)' }),
    user_agent: Type.Union([Type.String(), Type.Null()], { description: 'The User-Agent it signed in with, truncated' }),
    address: Type.Union([Type.String(), Type.Null()], { description: 'The address it signed in from' }),
    current: Type.Boolean({ description: 'The session of the access token of this request' }),
  },
  { description: 'A session: one sign-in, kept across refreshes' },
)

/** Cursors are opaque to clients; inside, the position of the last session seen. */
function encodeCursor(position: { createdAt: Date; id: string }): string {
  return Buffer.from(`t:${position.createdAt.toISOString()}|${position.id}`).toString('base64url')
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const match = /^t:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(.{36})$/.exec(Buffer.from(cursor, 'base64url').toString())
  const createdAt = match ? new Date(match[1]!) : undefined
  if (!match || !createdAt || Number.isNaN(createdAt.getTime()) || !UUID.test(match[2]!)) {
    throw new ApiError(400, 'cursor is not one this API returned', 'cursor')
  }
  return { createdAt, id: match[2]! }
}

const listSessions: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/sessions',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['sessions'],
        summary: 'Your live sessions (signed in, not logged out or revoked, not expired), newest first',
        description:
          'Each sign-in (`POST /api/token/`) is a session; refreshing keeps it. `current` marks the one of the access token you called with. ' +
          'Keyset pagination: pass `next_cursor` as `cursor` for the next page.',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ maxLength: 128 })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(SessionResource), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errorResponses(400, 401, 503),
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query
      const page = await app.repos.sessions.listLive(request.account.id, {
        limit,
        now: new Date(app.clock()),
        ...(cursor !== undefined ? { after: decodeCursor(cursor) } : {}),
      })
      return {
        items: page.sessions.map((session) => ({
          id: session.id,
          created_at: session.created_at.toISOString(),
          last_used_at: session.last_used_at.toISOString(),
          user_agent: session.user_agent,
          address: session.address,
          current: session.id === request.sessionId,
        })),
        next_cursor: page.next ? encodeCursor(page.next) : null,
      }
    },
  )
}

export default listSessions
