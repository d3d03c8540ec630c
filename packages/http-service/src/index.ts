import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** A caller's x-request-id is kept when it is sane, so one id follows a request through every service. */
export function requestIdFromHeader(request: IncomingMessage): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
}

export const requestIdOptions = { requestIdHeader: 'x-request-id', genReqId: requestIdFromHeader } as const

/** Returns the request id to the caller, whichever service answers. */
export function echoRequestId(app: FastifyInstance): void {
  // a callback hook, not an async one: this runs on every request, and a promise per request shows in profiles
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
}

/**
 * Listens, and on SIGTERM/SIGINT stops accepting, lets in-flight requests finish (up to `graceMs`),
 * runs the app's onClose hooks (pools, queues) and exits 0.
 */
export async function serveUntilSignalled(app: FastifyInstance, options: { host: string; port: number; graceMs?: number }): Promise<void> {
  closeWithGrace({ delay: options.graceMs ?? 10_000 }, async ({ err, signal }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  await app.listen({ host: options.host, port: options.port })
}

export { BoundCounter, BoundHistogram } from './bound-metrics.js'
export { VIEW_REUSABLE_MS_HEADER } from './view-reuse.js'
export { operations, type OperationsOptions, type ReadinessCheck } from './operations.js'
