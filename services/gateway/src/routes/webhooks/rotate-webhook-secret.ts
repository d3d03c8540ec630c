import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { WebhookEndpointWithSecretResource, WebhookIdParams } from '../../schemas/webhooks.js'
import { rotateWebhookSecret } from '../../services/webhook-endpoints.js'

const rotateWebhookSecretRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/webhooks/:id/rotate-secret',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['webhooks'],
        summary: 'Give one of your webhook endpoints a new secret; the answer shows it, this once',
        description:
          'For 24 hours (until `previous_secret_expires_at`) deliveries are signed with both the new and the previous secret (two `v1,` signatures in `webhook-signature`), so your receiver keeps verifying while you switch it over. Rotating again within that time drops the older one.',
        security: [{ bearerAuth: [] }],
        params: WebhookIdParams,
        response: { 200: WebhookEndpointWithSecretResource, ...errorResponses(401, 404, 503) },
      },
    },
    async (request) => rotateWebhookSecret(app, request.account, request.params.id),
  )
}

export default rotateWebhookSecretRoute
