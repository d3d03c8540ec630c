import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { registerQueueMetrics } from '@imageapi/queue'

declare module 'fastify' {
  interface FastifyInstance {
    uploadMetrics: {
      /** Bytes of accepted uploads. */
      bytes: Counter
      /** Uploads by outcome: accepted, or the reason they were refused. */
      uploads: Counter<'outcome'>
    }
  }
}

export default fp(
  async (app) => {
    const registers = [app.metrics]
    app.decorate('uploadMetrics', {
      bytes: new Counter({ name: 'imageapi_upload_bytes_total', help: 'Bytes of accepted uploads', registers }),
      uploads: new Counter({ name: 'imageapi_uploads_total', help: 'Uploads by outcome', labelNames: ['outcome'] as const, registers }),
    })
    registerQueueMetrics(app.metrics, app.thumbnailQueue)
  },
  { name: 'metrics', dependencies: ['operations', 'thumbnail-queue'] },
)
