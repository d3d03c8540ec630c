import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { readQueueStatus } from '../../../services/queue-control.js'
import { adminErrorResponses } from '../schemas.js'
import { QueueStatusResource } from './queue-status.js'

const pauseQueue: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/admin/queue/pause',
    {
      schema: {
        tags: ['admin'],
        summary: 'Pause thumbnail processing on every worker',
        description: 'Jobs in flight finish; uploads and backfills keep queueing, and wait until resumed.',
        security: [{ bearerAuth: [] }],
        response: { 200: QueueStatusResource, ...adminErrorResponses(503) },
      },
    },
    async (request) => {
      await app.thumbnailQueue.pause()
      request.log.info('thumbnail processing paused')
      return readQueueStatus(app)
    },
  )
}

export default pauseQueue
