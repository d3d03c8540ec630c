import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { readQueueStatus, retryFailedJobs } from '../../../services/queue-control.js'
import { adminErrorResponses } from '../schemas.js'
import { QueueStatusResource } from './queue-status.js'

const retryFailedJobsRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/admin/queue/retry-failed',
    {
      schema: {
        tags: ['admin'],
        summary: 'Retry every failed job',
        description: 'Failed thumbnails still owed go back to pending and their images are queued again at backfill priority.',
        security: [{ bearerAuth: [] }],
        response: {
          200: Type.Object({
            images: Type.Integer({ description: 'Images queued again' }),
            thumbnails: Type.Integer({ description: 'Failed thumbnails back to pending' }),
            queue: QueueStatusResource,
          }),
          ...adminErrorResponses(503),
        },
      },
    },
    async (request) => {
      const retried = await retryFailedJobs(app)
      request.log.info(retried, 'failed jobs retried')
      return { ...retried, queue: await readQueueStatus(app) }
    },
  )
}

export default retryFailedJobsRoute
