import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom from '@fastify/reply-from'
import type { Readable } from 'node:stream'
import { VIEW_REUSABLE_MS_HEADER } from '@imageapi/http-service'
import { readIntoBuffer } from '@imageapi/storage'
import { LruCache } from '@imageapi/lru-cache'
import { representationKey } from '@imageapi/media'
import { VIEW_PATH } from '../../plugins/app/view-links.js'
import { errorBody } from '../../plugins/app/errors.js'

/** What reply-from hands to onResponse with its undici client (its typings describe a node:http response). */
interface UpstreamResponse {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  stream: Readable
}

/** Only plain GETs are answered from memory; ranges and revalidations go to the links service, which knows how. */
function answerableFromMemory(request: FastifyRequest): boolean {
  const { headers } = request
  return request.method === 'GET' && headers.range === undefined && headers['if-range'] === undefined && headers['if-none-match'] === undefined
}

/**
 * A handler that passes the request to the links service as it is, over a keep-alive pool (set up
 * in `app`'s context), streaming both ways without buffering. A small full answer that the links
 * service marks reusable is kept for that long (app.viewAnswers) and the same URL is answered from
 * memory meanwhile.
 */
export async function forwardingToLinks(app: FastifyInstance, linksUrl: string) {
  await app.register(replyFrom, {
    base: linksUrl,
    undici: { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 },
  })
  const { viewAnswers, viewAnswerMetrics } = app
  const withoutReuseHeader = (headers: Record<string, string | string[] | undefined>) => {
    if (!(VIEW_REUSABLE_MS_HEADER in headers)) return headers
    const { [VIEW_REUSABLE_MS_HEADER]: _internal, ...rest } = headers
    return rest
  }

  // a thumbnail link answers by Accept: answers are kept per URL and representation (a few per URL)
  const representations = new LruCache<string, string>({ maxEntries: 1_000 })
  const answerKey = (request: FastifyRequest) => {
    const accept = request.headers.accept ?? ''
    let representation = representations.get(accept)
    if (representation === undefined) representations.set(accept, (representation = representationKey(request.headers.accept)))
    return `${request.url}\u0000${representation}`
  }

  return (request: FastifyRequest, reply: FastifyReply) => {
    const fromMemory = viewAnswers.enabled && answerableFromMemory(request)
    const key = fromMemory ? answerKey(request) : ''
    if (fromMemory) {
      const answer = viewAnswers.get(key)
      if (answer) {
        viewAnswerMetrics.hit.inc()
        // a shared cache's answer says how old it is (RFC 9111 5.1), so max-age is not stretched
        return reply.headers(answer.headers).header('age', String(Math.floor((app.clock() - answer.storedAtMs) / 1000))).send(answer.body)
      }
      viewAnswerMetrics.miss.inc()
    }
    return reply.from(request.url, {
      rewriteHeaders: withoutReuseHeader,
      onResponse: (_request, forwardReply, raw) => {
        const response = raw as unknown as UpstreamResponse
        const reusableMs = Number(response.headers[VIEW_REUSABLE_MS_HEADER])
        const length = Number(response.headers['content-length'])
        if (!fromMemory || response.statusCode !== 200 || !viewAnswers.accepts(length, reusableMs)) return forwardReply.send(response.stream)
        readIntoBuffer(response.stream, length).then(
          (body) => {
            viewAnswers.set(key, withoutReuseHeader(response.headers), body, reusableMs)
            viewAnswerMetrics.stored.inc()
            forwardReply.send(body)
          },
          (error: unknown) => {
            request.log.warn({ err: error }, 'view answer from the links service broke off')
            forwardReply.code(502).send(errorBody(502, 'the link service answered incompletely, try again'))
          },
        )
      },
      onError: (forwardReply) => forwardReply.code(503).send(errorBody(503, 'the link service is unavailable, try again shortly')),
    })
  }
}

/** View links are public and served by the links service; the gateway, the one public entry point, passes them through. */
const forwardViewLinks: FastifyPluginAsync<{ linksUrl: string }> = async (app, options) => {
  const handler = await forwardingToLinks(app, options.linksUrl)
  const schema = { tags: ['links'], summary: 'Open a signed view link (no authentication needed)' }
  // fastify answers HEAD from the GET route, and reply-from forwards it as HEAD
  app.get(`${VIEW_PATH}*`, { schema }, handler)
}

export default forwardViewLinks
