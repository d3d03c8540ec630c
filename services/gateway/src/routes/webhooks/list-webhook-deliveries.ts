import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { decodeKeysetCursor, encodeKeysetCursor } from '../../schemas/keyset-cursors.js'
import { WebhookDeliveryResource, WebhookIdParams } from '../../schemas/webhooks.js'
import { findOwnEndpoint, toWebhookDeliveryResource } from '../../services/webhook-endpoints.js'

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
      const after = cursor !== undefined ? decodeKeysetCursor('d', cursor) : undefined
      const endpoint = await findOwnEndpoint(app, request.params.id, request.account)
      const page = await app.repos.webhooks.listDeliveries(endpoint.id, { limit, ...(after ? { after } : {}) })
      return { items: page.deliveries.map(toWebhookDeliveryResource), next_cursor: page.next ? encodeKeysetCursor('d', page.next) : null }
    },
  )
}

export default listWebhookDeliveries
