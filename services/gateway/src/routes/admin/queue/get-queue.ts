import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { readQueueStatus } from '../../../services/queue-control.js'
import { adminErrorResponses } from '../schemas.js'
import { QueueStatusResource } from './queue-status.js'

const getQueue: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/admin/queue',
    {
      schema: {
        tags: ['admin'],
        summary: 'Thumbnail jobs by state, and whether processing is paused',
        security: [{ bearerAuth: [] }],
        response: { 200: QueueStatusResource, ...adminErrorResponses(503) },
      },
    },
    async () => readQueueStatus(app),
  )
}

export default getQueue
