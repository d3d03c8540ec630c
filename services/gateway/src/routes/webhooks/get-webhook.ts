import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { WebhookEndpointResource, WebhookIdParams } from '../../schemas/webhooks.js'
import { findOwnEndpoint, toWebhookEndpointResource } from '../../services/webhook-endpoints.js'

const getWebhook: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/webhooks/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['webhooks'],
        summary: 'One of your webhook endpoints (without its secret)',
        description: 'Another user\'s endpoint answers 404, as one that does not exist. `disabled_reason` says why it was disabled after failing deliveries.',
        security: [{ bearerAuth: [] }],
        params: WebhookIdParams,
        response: { 200: WebhookEndpointResource, ...errorResponses(401, 404, 503) },
      },
    },
    async (request) => toWebhookEndpointResource(await findOwnEndpoint(app, request.params.id, request.account)),
  )
}

export default getWebhook
