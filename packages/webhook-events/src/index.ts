export { eventMessageId, publishWebhookEvent, queueWebhookDelivery, type PublishDeps, type WebhookAudience, type WebhookEvent } from './publish.js'
