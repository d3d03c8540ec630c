import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@fastify/type-provider-typebox'
import { findAccount } from '@imageapi/accounts'
import type { WebhookDelivery } from '@imageapi/db'
import { adminErrorResponses, UserIdParams } from '../schemas.js'
import { WebhookDeliverySummary, WebhookEndpointResource } from '../../../schemas/webhooks.js'
import { toWebhookEndpointResource } from '../../../services/webhook-endpoints.js'

const LastDelivery = Type.Union([WebhookDeliverySummary, Type.Null()], {
  description: 'Its newest delivery, whatever its state; null when it has none. GET /api/admin/webhooks/{id} has the last ones in full.',
})

export const AdminUserWebhooks = Type.Object(
  {
    user: Type.Object({ id: Type.String({ format: 'uuid' }), email: Type.String() }, { description: 'Whose endpoints these are' }),
    items: Type.Array(
      Type.Object(
        {
          endpoint: WebhookEndpointResource,
          consecutive_failures: Type.Integer({ description: 'Deliveries that failed after all their retries since the last one delivered' }),
          failing_since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the first of those failed' }),
          last_delivery: LastDelivery,
        },
        { description: 'One endpoint\'s health summary: never its secret' },
      ),
      { description: 'The user\'s endpoints, oldest first (a user has few: the cap)' },
    ),
  },
  { $id: 'AdminUserWebhooks', description: 'A user\'s webhook endpoints with their health, for admins: never a secret' },
)
export type AdminUserWebhooks = Static<typeof AdminUserWebhooks>

function toLastDelivery(delivery: WebhookDelivery | undefined): AdminUserWebhooks['items'][number]['last_delivery'] {
  if (!delivery) return null
  return {
    id: delivery.id,
    event_type: delivery.event_type,
    status: delivery.status,
    attempts: delivery.attempts,
    last_status_code: delivery.last_status_code,
    created_at: delivery.created_at.toISOString(),
    updated_at: delivery.updated_at.toISOString(),
  }
}

const listUserWebhooks: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/users/:id/webhooks',
    {
      schema: {
        tags: ['admin'],
        summary: 'A user\'s webhook endpoints with their health: enabled, why one was disabled, its failures and last delivery',
        description:
          'For support: each endpoint of the user (never its secret), the failure run that disables it (`consecutive_failures`, `failing_since`) and its newest delivery. GET /api/admin/webhooks/{id} shows one endpoint\'s last deliveries.',
        security: [{ bearerAuth: [] }],
        params: UserIdParams,
        response: { 200: AdminUserWebhooks, ...adminErrorResponses(404, 503) },
      },
    },
    async (request): Promise<AdminUserWebhooks> => {
      const user = await findAccount(app.repos, request.params.id)
      const endpoints = await app.repos.webhooks.listByOwnerWithLastDelivery(user.id)
      return {
        user: { id: user.id, email: user.email },
        items: endpoints.map(({ endpoint, lastDelivery }) => ({
          endpoint: toWebhookEndpointResource(endpoint),
          consecutive_failures: endpoint.consecutive_failures,
          failing_since: endpoint.failing_since?.toISOString() ?? null,
          last_delivery: toLastDelivery(lastDelivery),
        })),
      }
    },
  )
}

export default listUserWebhooks
