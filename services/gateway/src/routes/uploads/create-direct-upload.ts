import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { CreateDirectUploadBody, DirectUploadResource } from '../../schemas/uploads.js'
import { createDirectUpload, type StagedUploadSettings } from '../../services/staged-uploads.js'
import { uploadRateLimited } from '../../services/upload-rate-limit.js'

export interface StagedUploadRouteOptions extends StagedUploadSettings {
  perUserPerWindow: number
  perIpPerWindow: number
}

const createDirectUploadRoute: FastifyPluginAsyncTypebox<StagedUploadRouteOptions> = async (app, options) => {
  app.post(
    '/api/uploads',
    {
      preHandler: [
        app.authenticate,
        uploadRateLimited(app, options),
      ],
      schema: {
        tags: ['uploads'],
        summary: 'Start a direct upload: the file goes to storage, not through this API',
        description: `Declare the file (\`bytes\`, at most ${options.maxBytes}; \`content_type\`, PNG or JPEG) and get a presigned \`PUT\` that can write only this upload's file, only with that type and exactly that many bytes, for ${options.urlSeconds} seconds. Send the file with \`upload.method\` to \`upload.url\` with \`upload.headers\`, then \`POST /api/uploads/{id}/complete\`: the file is checked like any upload (type, dimensions, byte and pixel limits) and becomes the image with this id. At most ${options.maxPendingPerUser} uploads may be pending per user (429 beyond); an upload not completed is removed after it expires.`,
        security: [{ bearerAuth: [] }],
        body: CreateDirectUploadBody,
        response: { 201: DirectUploadResource, ...errorResponses(400, 401, 413, 429, 503) },
      },
    },
    async (request, reply) => {
      const upload = await createDirectUpload(app, request, request.account, request.body, options)
      return reply.code(201).header('location', `/api/uploads/${upload.id}`).send(upload)
    },
  )
}

export default createDirectUploadRoute
