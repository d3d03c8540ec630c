import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { ImageRejectedError } from '@imageapi/image-probe'
import { ApiError, UPLOAD_MEDIA_TYPE_MESSAGE } from '../../plugins/app/errors.js'
import { receiveUpload } from '../../services/receive-upload.js'
import { createImage } from '../../services/create-image.js'
import { toImageResource } from '../../services/image-resource.js'
import { errorResponses, ImageResource } from '../schemas.js'
import { TITLE_MAX_LENGTH, validateTitle } from '../../schemas/titles.js'
import { uploadRateLimited } from '../../services/upload-rate-limit.js'


/** A bounded label for the uploads metric: the probe's rejection code, the field at fault, or the status. */
function rejectionOutcome(error: unknown): string {
  if (error instanceof ImageRejectedError) return error.code
  if (error instanceof ApiError) return error.field ? `invalid_${error.field}` : `status_${error.statusCode}`
  return 'error'
}

export interface UploadRouteOptions {
  maxBytes: number
  maxPixels: number
  perUserPerWindow: number
  perIpPerWindow: number
}

const uploadImage: FastifyPluginAsyncTypebox<UploadRouteOptions> = async (app, options) => {
  const limits = { maxBytes: options.maxBytes, maxPixels: options.maxPixels }

  app.post(
    '/api/images',
    {
      preHandler: [
        app.authenticate,
        uploadRateLimited(app, options),
      ],
      // the body is a stream read by the handler; this schema documents it and is not used to validate
      validatorCompiler: () => () => true,
      schema: {
        tags: ['images'],
        summary: 'Upload a PNG or JPEG image',
        description: `Multipart form: \`image\` (PNG or JPEG, at most ${options.maxBytes} bytes and ${options.maxPixels} pixels) and an optional \`title\` (at most ${TITLE_MAX_LENGTH} characters). Thumbnails are made in the background: they start as \`pending\`.`,
        security: [{ bearerAuth: [] }],
        consumes: ['multipart/form-data'],
        body: Type.Object({
          image: Type.String({ format: 'binary' }),
          title: Type.Optional(Type.String({ maxLength: TITLE_MAX_LENGTH })),
        }),
        response: { 201: ImageResource, ...errorResponses(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw new ApiError(415, UPLOAD_MEDIA_TYPE_MESSAGE, 'image')
      const upload = await receiveUpload(app, request, limits).catch((error: unknown) => {
        app.uploadMetrics.uploads.inc({ outcome: rejectionOutcome(error) })
        throw error
      })
      try {
        if (!upload.file) throw new ApiError(400, 'no file was sent in the field "image"', 'image')
        const title = validateTitle(upload.fields.title)
        const { image } = await createImage(app, request, request.account, { stored: upload.file, title })
        app.uploadMetrics.uploads.inc({ outcome: 'accepted' })
        app.uploadMetrics.bytes.inc(image.bytes)
        // the rows were written with the tier's heights as of the insert, which an admin may have changed since sign-in
        const tier = { ...request.account.tier, thumbnail_heights: image.thumbnails.map((thumbnail) => thumbnail.height) }
        return reply.code(201).header('location', `/api/images/${image.id}`).send(toImageResource(app, request, image, tier))
      } catch (error) {
        app.uploadMetrics.uploads.inc({ outcome: rejectionOutcome(error) })
        throw error
      } finally {
        await upload.file?.discard()
      }
    },
  )
}

export default uploadImage
