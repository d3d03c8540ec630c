import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { decodeKeysetCursor, encodeKeysetCursor } from '../../schemas/keyset-cursors.js'

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
        ...(cursor !== undefined ? { after: decodeKeysetCursor('t', cursor) } : {}),
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
        next_cursor: page.next ? encodeKeysetCursor('t', page.next) : null,
      }
    },
  )
}

export default listSessions
