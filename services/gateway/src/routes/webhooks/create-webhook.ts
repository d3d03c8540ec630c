import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { CreateWebhookBody, WebhookEndpointWithSecretResource } from '../../schemas/webhooks.js'
import { createWebhookEndpoint, type WebhookEndpointSettings } from '../../services/webhook-endpoints.js'

const createWebhook: FastifyPluginAsyncTypebox<WebhookEndpointSettings> = async (app, options) => {
  app.post(
    '/api/webhooks',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['webhooks'],
        summary: 'Register a webhook endpoint: events you subscribe to are POSTed to its URL, signed',
        description: `Requests follow the Standard Webhooks specification: headers \`webhook-id\` (the same on every retry of one event), \`webhook-timestamp\` and \`webhook-signature\` (HMAC-SHA256 with the endpoint's secret), the body \`{"type", "timestamp", "data"}\`. The answer holds the \`secret\` (\`whsec_…\`), shown only now and when rotated. The URL must be \`https://\` on the public internet. A user has at most ${options.maxPerUser} endpoints (WEBHOOK_ENDPOINTS_PER_USER): one more answers 409.`,
        security: [{ bearerAuth: [] }],
        body: CreateWebhookBody,
        response: { 201: WebhookEndpointWithSecretResource, ...errorResponses(400, 401, 409, 503) },
      },
    },
    async (request, reply) => {
      const endpoint = await createWebhookEndpoint(app, request.account, request.body, options)
      return reply.code(201).header('location', `/api/webhooks/${endpoint.id}`).send(endpoint)
    },
  )
}

export default createWebhook
