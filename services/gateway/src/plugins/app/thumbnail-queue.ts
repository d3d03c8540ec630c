import fp from 'fastify-plugin'
import { createThumbnailQueue, enqueueThumbnails, type RedisTarget, type ThumbnailJobData } from '@imageapi/queue'
import type { Queue } from 'bullmq'

declare module 'fastify' {
  interface FastifyInstance {
    thumbnailQueue: Queue<ThumbnailJobData>
    /** Queues an image's thumbnails; never fails the request, since the rows already say what is owed. */
    requestThumbnails(data: ThumbnailJobData): Promise<boolean>
  }
}

export default fp<{ redis: RedisTarget; prefix: string }>(
  async (app, options) => {
    const queue = createThumbnailQueue({ redis: options.redis, prefix: options.prefix })
    // a Redis outage must not crash the gateway; uploads keep working and the reconciler catches up
    queue.on('error', (error) => app.log.warn({ err: error }, 'thumbnail queue error'))
    app.decorate('thumbnailQueue', queue)
    app.decorate('requestThumbnails', async (data: ThumbnailJobData) => {
      try {
        await enqueueThumbnails(queue, data)
        return true
      } catch (error) {
        app.log.warn({ err: error, imageId: data.imageId }, 'could not queue thumbnails; the reconciler will')
        return false
      }
    })
    app.addHook('onClose', async () => queue.close())
  },
  { name: 'thumbnail-queue' },
)
