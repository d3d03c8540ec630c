import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { readQueueStatus } from '../../../services/queue-control.js'
import { adminErrorResponses } from '../schemas.js'
import { QueueStatusResource } from './queue-status.js'

const resumeQueue: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/admin/queue/resume',
    {
      schema: {
        tags: ['admin'],
        summary: 'Resume thumbnail processing',
        security: [{ bearerAuth: [] }],
        response: { 200: QueueStatusResource, ...adminErrorResponses(503) },
      },
    },
    async (request) => {
      await app.thumbnailQueue.resume()
      request.log.info('thumbnail processing resumed')
      return readQueueStatus(app)
    },
  )
}

export default resumeQueue
