import fp from 'fastify-plugin'
import { createWebhookQueue, type RedisTarget, type WebhookQueue } from '@imageapi/queue'
import { publishWebhookEvent, queueWebhookDelivery, type WebhookEvent } from '@imageapi/webhook-events'
import type { WebhookDelivery } from '@imageapi/db'

declare module 'fastify' {
  interface FastifyInstance {
    webhookQueue: WebhookQueue
    /** Writes the event's deliveries and queues them; never fails the request once the rows are written (the worker's reconciler queues what Redis missed). */
    publishWebhookEvent(event: WebhookEvent): Promise<void>
    /** Queues an existing pending delivery now (test events, manual retries); Redis away: the reconciler queues it. */
    queueWebhookDelivery(delivery: Pick<WebhookDelivery, 'id' | 'attempts'>): Promise<void>
  }
}

/** The webhooks queue: the gateway only adds to it; the worker process delivers. */
export default fp<{ redis: RedisTarget; prefix: string }>(
  async (app, options) => {
    const queue = createWebhookQueue({ redis: options.redis, prefix: options.prefix })
    queue.on('error', (error) => app.log.warn({ err: error }, 'webhook queue error'))
    app.decorate('webhookQueue', queue)
    app.decorate('publishWebhookEvent', async (event: WebhookEvent) => {
      try {
        await publishWebhookEvent({ repos: app.repos, queue }, event)
      } catch (error) {
        app.log.warn({ err: error, event: event.key }, 'could not publish a webhook event')
      }
    })
    app.decorate('queueWebhookDelivery', async (delivery: Pick<WebhookDelivery, 'id' | 'attempts'>) => {
      await queueWebhookDelivery(queue, delivery).catch((error: unknown) => app.log.warn({ err: error, deliveryId: delivery.id }, 'could not queue a webhook delivery; the reconciler will'))
    })
    app.addHook('onClose', async () => queue.close())
  },
  { name: 'webhook-queue', dependencies: ['database'] },
)
