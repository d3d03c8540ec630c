import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ApiError } from '../../../plugins/app/errors.js'
import { adminErrorResponses } from '../schemas.js'
import { UUID } from '../../../schemas/ids.js'
import { WebhookHealthResource } from '../../../schemas/webhooks.js'
import { toWebhookDeliveryResource, toWebhookEndpointResource } from '../../../services/webhook-endpoints.js'

/** Deliveries the health view shows. */
export const HEALTH_DELIVERIES = 20

const getWebhookHealth: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/webhooks/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'A webhook endpoint\'s health, whoever owns it: enabled, why it was disabled, its failures and last deliveries',
        description: `The endpoint (never its secret), its owner, the failure run that disables it (\`consecutive_failures\`, \`failing_since\`) and its last ${HEALTH_DELIVERIES} deliveries, newest first.`,
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: Type.String({ description: 'Webhook endpoint id' }) }),
        response: { 200: WebhookHealthResource, ...adminErrorResponses(404, 503) },
      },
    },
    async (request) => {
      const health = UUID.test(request.params.id) ? await app.repos.webhooks.health(request.params.id.toLowerCase(), HEALTH_DELIVERIES) : undefined
      if (!health) throw new ApiError(404, 'webhook endpoint not found')
      const { endpoint, deliveries } = health
      return {
        endpoint: toWebhookEndpointResource(endpoint),
        owner_id: endpoint.owner_id,
        consecutive_failures: endpoint.consecutive_failures,
        failing_since: endpoint.failing_since?.toISOString() ?? null,
        deliveries: deliveries.map(toWebhookDeliveryResource),
      }
    },
  )
}

export default getWebhookHealth
