import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { WebhookDeliveryParams, WebhookDeliveryResource } from '../../schemas/webhooks.js'
import { retryDelivery, toWebhookDeliveryResource } from '../../services/webhook-endpoints.js'

const retryWebhookDelivery: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/webhooks/:id/deliveries/:deliveryId/retry',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['webhooks'],
        summary: 'Send one delivery to your endpoint again (queued)',
        description:
          'For a `failed` or `delivered` delivery: it is queued again (`pending`, due now, with the whole retry schedule ahead) and sent shortly after with the same `webhook-id` and body, signed anew. Answers 202 with the delivery as queued; follow it in the deliveries list. One still pending answers 409, as does a disabled endpoint.',
        security: [{ bearerAuth: [] }],
        params: WebhookDeliveryParams,
        response: { 202: WebhookDeliveryResource, ...errorResponses(401, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const delivery = await retryDelivery(app, request.account, request.params.id, request.params.deliveryId)
      return reply.code(202).send(toWebhookDeliveryResource(delivery))
    },
  )
}

export default retryWebhookDelivery
