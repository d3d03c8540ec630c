import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ApiError } from '../../plugins/app/errors.js'
import { errorResponses, ImageResource } from '../schemas.js'
import { UploadIdParams } from '../../schemas/uploads.js'
import { completeStagedUpload } from '../../services/staged-uploads.js'
import { toImageResource } from '../../services/image-resource.js'
import type { UploadLimits } from '../../services/receive-upload.js'
import { UUID } from '../../schemas/ids.js'


const completeUpload: FastifyPluginAsyncTypebox<UploadLimits> = async (app, limits) => {
  app.post(
    '/api/uploads/:id/complete',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['uploads'],
        summary: 'Complete a direct upload: check the file that arrived and make it an image',
        description:
          'Reads the stored file\'s header and end (not the whole file) and applies the checks of `POST /api/images`; the image, the thumbnails your tier owes and their job are then created at once, and the answer is that image, as `POST /api/images` answers. A refused file is deleted and the upload ends (4xx saying why). 409 when no file has arrived yet (send it, then try again) or the upload was already completed; 410 when it expired.',
        security: [{ bearerAuth: [] }],
        params: UploadIdParams,
        response: { 201: ImageResource, ...errorResponses(400, 401, 404, 409, 410, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      if (!UUID.test(id)) throw new ApiError(404, `no pending upload ${id.slice(0, 64)}`)
      const image = await completeStagedUpload(app, request, request.account, id.toLowerCase(), limits)
      app.uploadMetrics.uploads.inc({ outcome: 'accepted' })
      app.uploadMetrics.bytes.inc(image.bytes)
      const tier = { ...request.account.tier, thumbnail_heights: image.thumbnails.map((thumbnail) => thumbnail.height) }
      return reply.code(201).header('location', `/api/images/${image.id}`).send(toImageResource(app, request, image, tier))
    },
  )
}

export default completeUpload
