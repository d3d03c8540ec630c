import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { UpdateWebhookBody, WebhookEndpointResource, WebhookIdParams } from '../../schemas/webhooks.js'
import { updateWebhookEndpoint, type WebhookEndpointSettings } from '../../services/webhook-endpoints.js'

const updateWebhook: FastifyPluginAsyncTypebox<WebhookEndpointSettings> = async (app, options) => {
  app.patch(
    '/api/webhooks/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['webhooks'],
        summary: 'Change one of your webhook endpoints: its URL, events, description, or whether it is enabled',
        description:
          'Only the fields sent change; the URL and events are checked as on creation. `{"enabled": true}` re-enables an endpoint disabled after failing deliveries: its `disabled_reason` and failure count are cleared. The secret does not change (see rotate-secret).',
        security: [{ bearerAuth: [] }],
        params: WebhookIdParams,
        body: UpdateWebhookBody,
        response: { 200: WebhookEndpointResource, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request) => updateWebhookEndpoint(app, request.account, request.params.id, request.body, options),
  )
}

export default updateWebhook
