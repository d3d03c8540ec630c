import { Type } from '@fastify/type-provider-typebox'
import { JOB_STATES } from '@imageapi/queue'

export const QueueStatusResource = Type.Object(
  {
    paused: Type.Boolean({ description: 'Workers finish the jobs they hold and take no new ones; jobs still queue up' }),
    counts: Type.Object(Object.fromEntries(JOB_STATES.map((state) => [state, Type.Integer()])), {
      description: 'Thumbnail jobs by state (`prioritized`: waiting, with a priority: uploads and backfills)',
    }),
  },
  { $id: 'QueueStatus' },
)
