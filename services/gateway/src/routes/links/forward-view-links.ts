import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom from '@fastify/reply-from'
import { VIEW_PATH } from '../../plugins/app/view-links.js'
import { errorBody } from '../../plugins/app/errors.js'

/**
 * A handler that passes the request to the links service as it is, over a keep-alive pool (set up
 * in `app`'s context), streaming both ways without buffering.
 */
export async function forwardingToLinks(app: FastifyInstance, linksUrl: string) {
  await app.register(replyFrom, {
    base: linksUrl,
    undici: { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 },
  })
  return (request: FastifyRequest, reply: FastifyReply) =>
    reply.from(request.url, {
      onError: (forwardReply) =>
        forwardReply.code(503).send(errorBody(503, 'the link service is unavailable, try again shortly')),
    })
}

/** View links are public and served by the links service; the gateway, the one public entry point, passes them through. */
const forwardViewLinks: FastifyPluginAsync<{ linksUrl: string }> = async (app, options) => {
  const handler = await forwardingToLinks(app, options.linksUrl)
  const schema = { tags: ['links'], summary: 'Open a signed view link (no authentication needed)' }
  // fastify answers HEAD from the GET route, and reply-from forwards it as HEAD
  app.get(`${VIEW_PATH}*`, { schema }, handler)
}

export default forwardViewLinks
