import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { WebhookIdParams } from '../../schemas/webhooks.js'
import { queueTestEvent } from '../../services/webhook-endpoints.js'

const sendTestWebhook: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/webhooks/:id/test',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['webhooks'],
        summary: 'Queue a `webhook.test` event to one of your endpoints',
        description:
          'Answers 202 as soon as the event is queued, with the delivery\'s id: it is sent shortly after, signed like any event, and its outcome (status code, latency, error) shows in `GET /api/webhooks/{id}/deliveries`. A disabled endpoint answers 409.',
        security: [{ bearerAuth: [] }],
        params: WebhookIdParams,
        response: {
          202: Type.Object({
            delivery_id: Type.String({ format: 'uuid', description: 'The queued delivery' }),
            message_id: Type.String({ description: 'Its `webhook-id` header' }),
            status: Type.Literal('pending'),
          }),
          ...errorResponses(401, 404, 409, 503),
        },
      },
    },
    async (request, reply) => {
      const delivery = await queueTestEvent(app, request.account, request.params.id)
      return reply.code(202).send({ delivery_id: delivery.id, message_id: delivery.message_id, status: 'pending' as const })
    },
  )
}

export default sendTestWebhook
