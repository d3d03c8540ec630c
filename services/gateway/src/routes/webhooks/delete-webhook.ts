import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { WebhookIdParams } from '../../schemas/webhooks.js'
import { parseWebhookId, webhookNotFound } from '../../services/webhook-endpoints.js'

const deleteWebhook: FastifyPluginAsyncTypebox = async (app) => {
  app.delete(
    '/api/webhooks/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['webhooks'],
        summary: 'Delete one of your webhook endpoints, with its deliveries',
        description: 'Nothing more is sent to it, including deliveries still queued. Another user\'s endpoint, or one already deleted, answers 404.',
        security: [{ bearerAuth: [] }],
        params: WebhookIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const deleted = await app.repos.webhooks.delete(parseWebhookId(request.params.id), request.account.id)
      if (!deleted) throw webhookNotFound()
      return reply.code(204).send(null)
    },
  )
}

export default deleteWebhook
