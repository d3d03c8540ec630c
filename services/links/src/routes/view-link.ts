import type { FastifyPluginAsync } from 'fastify'
import { resolveViewLink } from '../services/resolve-view-link.js'

// Bodies as the API we replace sends them for its view links.
export const LINK_EXPIRED = { error: ['Sorry, the link is expired'] }
export const LINK_REVOKED = { error: ['Sorry, the link was revoked'] }
export const LINK_NOT_FOUND = { detail: 'Not found.' }

const ONE_YEAR = 365 * 24 * 3600
// an original's link is re-checked against the owner's tier at least this often by caches
const ORIGINAL_MAX_AGE = 300

const viewLink: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { token: string } }>('/v/:token', async (request, reply) => {
    const nowSeconds = Math.floor(app.clock() / 1000)
    const outcome = await resolveViewLink({ signer: app.linkSigner, repos: app.repos }, request.params.token, nowSeconds)
    if (outcome.kind === 'not_found') return reply.code(404).header('cache-control', 'no-store').send(LINK_NOT_FOUND)
    if (outcome.kind === 'expired') return reply.code(410).header('cache-control', 'no-store').send(LINK_EXPIRED)
    if (outcome.kind === 'revoked') return reply.code(410).header('cache-control', 'no-store').send(LINK_REVOKED)

    reply.header('content-type', outcome.contentType)
    reply.header('etag', outcome.etag)
    reply.header('content-disposition', `inline; filename="${outcome.filename}"`)
    reply.header('x-content-type-options', 'nosniff')
    if (outcome.expiresAt !== undefined) {
      const left = Math.max(0, outcome.expiresAt - nowSeconds)
      reply.header('cache-control', `private, max-age=${left}`)
      reply.header('expires', new Date(outcome.expiresAt * 1000).toUTCString())
    } else {
      reply.header('cache-control', outcome.variant === 'original' ? `public, max-age=${ORIGINAL_MAX_AGE}` : `public, max-age=${ONE_YEAR}, immutable`)
    }
    if (request.headers['if-none-match'] === outcome.etag) return reply.code(304).send()
    reply.header('content-length', outcome.bytes)
    if (request.method === 'HEAD') return reply.send()
    return reply.send(await app.storage.getObject(outcome.objectKey))
  })
}

export default viewLink
