import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom from '@fastify/reply-from'
import { VIEW_PATH } from '../../plugins/app/view-links.js'
import { errorBody } from '../../plugins/app/errors.js'

/**
 * View links are public and served by the links service; the gateway, the one public entry point,
 * passes them through over a keep-alive pool, streaming both ways without buffering.
 */
const forwardViewLinks: FastifyPluginAsync<{ linksUrl: string }> = async (app, options) => {
  await app.register(replyFrom, {
    base: options.linksUrl,
    // the request line is logged once by the gateway (token redacted); two more lines per view are noise
    disableRequestLogging: true,
    undici: { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 },
  })
  const handler = (request: FastifyRequest, reply: FastifyReply) =>
    reply.from(request.url, {
      onError: (forwardReply) =>
        forwardReply.code(503).send(errorBody(503, 'the link service is unavailable, try again shortly')),
    })
  const schema = { tags: ['links'], summary: 'Open a signed view link (no authentication needed)' }
  // fastify answers HEAD from the GET route, and reply-from forwards it as HEAD
  app.get(`${VIEW_PATH}*`, { schema }, handler)
}

export default forwardViewLinks
