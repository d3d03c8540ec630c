import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { isRenditionFormat, RENDITION_FORMATS } from '@imageapi/media'
import { ApiError } from '../../../plugins/app/errors.js'
import { startedBackfill } from '../../../services/backfills.js'
import { adminErrorResponses, MaybeBackfill, RenditionFormatResource, toRenditionFormatResource } from '../schemas.js'

/** sharp's effort ranges, which the database enforces too. */
const MAX_EFFORT = { webp: 6, avif: 9 } as const

const updateFormat: FastifyPluginAsyncTypebox = async (app) => {
  app.patch(
    '/api/admin/formats/:format',
    {
      schema: {
        tags: ['admin'],
        summary: 'Turn a rendition format on or off, or change its quality and effort',
        description:
          'Turning a format on makes every existing thumbnail owe it: the answer carries the backfill that makes them (progress at `/api/admin/backfills/{id}`). Turning it off stops making and offering it; what was made is kept, and offered again once it is turned back on. Quality and effort apply to renditions made from then on.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ format: Type.String({ description: `One of ${Object.keys(RENDITION_FORMATS).join(', ')}` }) }),
        body: Type.Object(
          {
            enabled: Type.Optional(Type.Boolean()),
            quality: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
            effort: Type.Optional(Type.Integer({ minimum: 0, maximum: 9 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ format: RenditionFormatResource, backfill: MaybeBackfill }), ...adminErrorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const { format } = request.params
      if (!isRenditionFormat(format)) throw new ApiError(404, `no rendition format ${JSON.stringify(format.slice(0, 40))}; there are ${Object.keys(RENDITION_FORMATS).join(', ')}`)
      const { enabled, quality, effort } = request.body
      // properties the schema does not know are dropped before this (fastify's removeAdditional): say so rather than change nothing
      if (enabled === undefined && quality === undefined && effort === undefined) throw new ApiError(400, 'nothing to change: give enabled, quality or effort')
      if (effort !== undefined && effort > MAX_EFFORT[format]) throw new ApiError(400, `effort for ${format} must be from 0 to ${MAX_EFFORT[format]}`, 'effort')
      const changed = await app.repos.renditionFormats.update(format, { enabled, quality, effort })
      if (!changed) throw new ApiError(404, `no rendition format ${format}`)
      return { format: toRenditionFormatResource(changed.settings), backfill: await startedBackfill(app, changed.backfill) }
    },
  )
}

export default updateFormat
