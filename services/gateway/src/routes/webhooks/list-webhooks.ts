import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { WebhookEndpointResource } from '../../schemas/webhooks.js'
import { toWebhookEndpointResource } from '../../services/webhook-endpoints.js'

const listWebhooks: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/webhooks',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['webhooks'],
        summary: 'Your webhook endpoints, oldest first (without their secrets)',
        description: 'All of them in one answer: a user has few (WEBHOOK_ENDPOINTS_PER_USER). Secrets are shown only when created or rotated.',
        security: [{ bearerAuth: [] }],
        response: { 200: Type.Object({ items: Type.Array(WebhookEndpointResource) }), ...errorResponses(401, 503) },
      },
    },
    async (request) => {
      const endpoints = await app.repos.webhooks.listByOwner(request.account.id)
      return { items: endpoints.map(toWebhookEndpointResource) }
    },
  )
}

export default listWebhooks
