import type { FastifyPluginAsync } from 'fastify'
import type { WebhookEndpointSettings } from '../../services/webhook-endpoints.js'
import createWebhook from './create-webhook.js'
import listWebhooks from './list-webhooks.js'
import getWebhook from './get-webhook.js'
import updateWebhook from './update-webhook.js'
import deleteWebhook from './delete-webhook.js'
import rotateWebhookSecret from './rotate-webhook-secret.js'
import sendTestWebhook from './send-test-webhook.js'
import listWebhookDeliveries from './list-webhook-deliveries.js'
import retryWebhookDelivery from './retry-webhook-delivery.js'

/** Webhook endpoints (issue 17): a user's own, under /api/webhooks. Deliveries are queued here and sent by the dispatcher. */
const webhooks: FastifyPluginAsync<WebhookEndpointSettings> = async (app, options) => {
  await app.register(createWebhook, options)
  await app.register(listWebhooks)
  await app.register(getWebhook)
  await app.register(updateWebhook, options)
  await app.register(deleteWebhook)
  await app.register(rotateWebhookSecret)
  await app.register(sendTestWebhook)
  await app.register(listWebhookDeliveries)
  await app.register(retryWebhookDelivery)
}

export default webhooks
