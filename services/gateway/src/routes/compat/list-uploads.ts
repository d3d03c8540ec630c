import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { toCompatListEntry } from '../../services/compat-uploads.js'
import { COMPAT_DOCS, CompatListPage, LEGACY_NOTE } from './schemas.js'

const DEFAULT_LIMIT = 10
const MAX_LIMIT = 100

/** DRF's limit/offset parsing: a value that is not a whole number falls back rather than failing. */
function wholeNumber(value: string | undefined, fallback: number, options: { min: number; max?: number }): number {
  if (value === undefined || !/^\s*\d{1,9}\s*$/.test(value)) return fallback
  const number = Number(value)
  if (number < options.min) return fallback
  return options.max === undefined ? number : Math.min(number, options.max)
}

/** The page link DRF would give: this URL with `limit` set and `offset` set, or removed when 0. */
function pageUrl(base: string, request: FastifyRequest, limit: number, offset: number): string {
  const url = new URL(request.url, `${base}/`)
  url.searchParams.set('limit', String(limit))
  if (offset > 0) url.searchParams.set('offset', String(offset))
  else url.searchParams.delete('offset')
  return `${base}${url.pathname}${url.search}`
}

const listCompatUploads: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/list/',
    {
      preHandler: app.authenticate,
      schema: {
        ...COMPAT_DOCS,
        summary: 'Your uploads through /api/upload/…, newest first, one entry per upload',
        description: `${LEGACY_NOTE}\n\nLimit/offset pagination (\`limit\` default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT}). Each entry links to the file its upload route asked for. Entries whose link has expired stay listed, with \`expired_at\` in the past, as they did in that API; their links answer 403. Images uploaded through the native routes are not listed here.`,
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({ limit: Type.Optional(Type.String()), offset: Type.Optional(Type.String()) }),
        response: { 200: CompatListPage, 401: Type.Ref('AuthError') },
      },
    },
    async (request) => {
      const limit = wholeNumber(request.query.limit, DEFAULT_LIMIT, { min: 1, max: MAX_LIMIT })
      const offset = wholeNumber(request.query.offset, 0, { min: 0 })
      const page = await app.repos.compatUploads.listByOwner(request.account.id, { limit, offset })
      const base = app.viewLinks.baseUrl(request)
      return {
        count: page.count,
        next: offset + limit < page.count ? pageUrl(base, request, limit, offset + limit) : null,
        previous: offset > 0 ? pageUrl(base, request, limit, Math.max(0, offset - limit)) : null,
        results: page.entries.map((entry) => toCompatListEntry(app, request, entry)),
      }
    },
  )
}

export default listCompatUploads
