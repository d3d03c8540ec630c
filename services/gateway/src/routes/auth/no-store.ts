import type { onSendHookHandler } from 'fastify'

/**
 * Token answers (and their errors) are never stored by a browser or a proxy (RFC 6749 §5.1):
 * `Cache-Control: no-store` and, for HTTP/1.0 caches, `Pragma: no-cache`. An onSend hook of the
 * route, so every answer of it carries them, the preHandler's 429 and the error handler's too.
 */
export const noStore: onSendHookHandler = (_request, reply, payload, done) => {
  reply.header('cache-control', 'no-store')
  reply.header('pragma', 'no-cache')
  done(null, payload)
}
