import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ApiError } from '../../plugins/app/errors.js'
import { errorResponses } from '../schemas.js'
import { UUID } from '../../schemas/ids.js'
import { WebhookDeliveryResource, WebhookIdParams } from '../../schemas/webhooks.js'
import { findOwnEndpoint, toWebhookDeliveryResource } from '../../services/webhook-endpoints.js'

/** Cursors are opaque to clients; inside, the position of the last delivery seen. */
export function encodeDeliveryCursor(position: { createdAt: Date; id: string }): string {
  return Buffer.from(`d:${position.createdAt.toISOString()}|${position.id}`).toString('base64url')
}

export function decodeDeliveryCursor(cursor: string): { createdAt: Date; id: string } {
  const match = /^d:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(.{36})$/.exec(Buffer.from(cursor, 'base64url').toString())
  const createdAt = match ? new Date(match[1]!) : undefined
  if (!match || !createdAt || Number.isNaN(createdAt.getTime()) || !UUID.test(match[2]!)) {
    throw new ApiError(400, 'cursor is not one this API returned', 'cursor')
  }
  return { createdAt, id: match[2]!.toLowerCase() }
}

const listWebhookDeliveries: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/webhooks/:id/deliveries',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['webhooks'],
        summary: 'The deliveries to one of your endpoints, newest first: status, attempts, last status code, latency, error, next retry',
        description:
          'A delivery is one event for the endpoint; failed attempts are retried on a schedule (about a day in all) before it is `failed`. Keyset pagination: pass `next_cursor` as `cursor` for the next page; `null` on the last one.',
        security: [{ bearerAuth: [] }],
        params: WebhookIdParams,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ maxLength: 128 })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(WebhookDeliveryResource), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query
      const after = cursor !== undefined ? decodeDeliveryCursor(cursor) : undefined
      const endpoint = await findOwnEndpoint(app, request.params.id, request.account)
      const page = await app.repos.webhooks.listDeliveries(endpoint.id, { limit, ...(after ? { after } : {}) })
      return { items: page.deliveries.map(toWebhookDeliveryResource), next_cursor: page.next ? encodeDeliveryCursor(page.next) : null }
    },
  )
}

export default listWebhookDeliveries
