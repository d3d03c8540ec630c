import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { stagedUploadKey } from '@imageapi/media'
import { ApiError } from '../../plugins/app/errors.js'
import { RESUMABLE_UPLOADS_PATH } from '../../plugins/app/resumable-uploads.js'
import { errorResponses } from '../schemas.js'
import { UUID } from '../../schemas/ids.js'
import { UploadIdParams } from '../../schemas/uploads.js'
import { validateTitle } from '../../schemas/titles.js'
import { endUpload, registerPendingUpload } from '../../services/staged-uploads.js'
import { resumableExtraKeys } from '../../services/resumable-upload-hooks.js'
import { uploadRateLimited } from '../../services/upload-rate-limit.js'

export interface ResumableUploadRouteOptions {
  maxBytes: number
  maxPendingPerUser: number
  /** An upload receiving nothing this long is abandoned. */
  idleSeconds: number
  perUserPerWindow: number
  perIpPerWindow: number
}

const TUS_HEADERS = Type.Object({ 'tus-resumable': Type.Optional(Type.String({ description: 'Must be 1.0.0' })) })

/** `Upload-Metadata`: comma-separated `key base64value` pairs (TUS 1.0); only `title` is read. */
function titleFromMetadata(header: string | undefined): string {
  if (!header) return ''
  for (const pair of header.split(',')) {
    const [key, value] = pair.trim().split(' ')
    if (key !== 'title') continue
    if (value === undefined) return ''
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new ApiError(400, 'Upload-Metadata: the title must be base64-encoded', 'title')
    return validateTitle(Buffer.from(value, 'base64').toString('utf8'))
  }
  return ''
}

function requireTus(request: FastifyRequest): void {
  if (request.headers['tus-resumable'] !== '1.0.0') throw new ApiError(412, 'send Tus-Resumable: 1.0.0: this endpoint speaks TUS 1.0')
}

/**
 * TUS 1.0 at /api/uploads/resumable: each request is authenticated and, past creation, allowed only
 * on the caller's own upload (another user's upload URL answers 404), then relayed to the TUS server.
 */
const resumableUpload: FastifyPluginAsyncTypebox<ResumableUploadRouteOptions> = async (app, options) => {
  // PATCH bodies (and a POST's first bytes) are streamed to storage by the TUS server, never parsed here
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null))

  app.post(
    RESUMABLE_UPLOADS_PATH,
    {
      preHandler: [
        app.authenticate,
        uploadRateLimited(app, options),
      ],
      schema: {
        tags: ['uploads'],
        summary: 'Start a resumable upload (TUS 1.0 creation)',
        description: `TUS 1.0 (creation, creation-with-upload, termination) with bearer authentication on every request. \`Upload-Length\` is required, at most ${options.maxBytes} bytes; \`Upload-Metadata\` may carry \`title\` (base64). Answers 201 with the upload's URL in \`Location\`; send the bytes with \`PATCH\` (\`Content-Type: application/offset+octet-stream\`, \`Upload-Offset\`), ask how far it got with \`HEAD\` after a dropped connection, and continue from there, through any gateway instance. The last byte runs the checks of \`POST /api/images\` and makes the image: that \`PATCH\` answers 200 with the image JSON, or the refusal (the upload then ends and nothing is kept). An upload that receives nothing for ${options.idleSeconds} seconds is removed. Counts toward the pending uploads per user and the upload rate limits.`,
        security: [{ bearerAuth: [] }],
        headers: Type.Intersect([TUS_HEADERS, Type.Object({ 'upload-length': Type.Optional(Type.String()), 'upload-metadata': Type.Optional(Type.String()) })]),
        response: { 201: Type.Null({ description: 'Created; the upload URL is in Location' }), ...errorResponses(400, 401, 412, 413, 429, 503) },
      },
    },
    async (request, reply) => {
      requireTus(request)
      const declared = request.headers['upload-length']
      if (typeof declared !== 'string' || !/^\d{1,16}$/.test(declared)) {
        throw new ApiError(400, 'Upload-Length is required: the file\'s size in bytes (deferred lengths are not supported)', 'Upload-Length')
      }
      const bytes = Number(declared)
      if (bytes === 0) throw new ApiError(400, 'the file is empty', 'Upload-Length')
      if (bytes > options.maxBytes) throw new ApiError(413, `the file may be at most ${options.maxBytes} bytes; Upload-Length says ${bytes}`, 'Upload-Length')
      const title = titleFromMetadata(request.headers['upload-metadata'] as string | undefined)
      const id = randomUUID()
      const key = stagedUploadKey(id, 'resumable')
      const expiresAt = new Date(app.clock() + options.idleSeconds * 1000)
      await registerPendingUpload(app, { id, ownerId: request.account.id, kind: 'resumable', title, format: null, bytes, objectKey: key, expiresAt }, options.maxPendingPerUser)
      await relayOwn(request, reply, { key })
      // the TUS store could not create it (storage down): end the row rather than leave it to the sweeper
      if (reply.raw.statusCode >= 300) {
        const upload = await app.repos.pendingUploads.findByOwner(id, request.account.id)
        if (upload) await endUpload(app, request, upload, resumableExtraKeys(upload))
      }
    },
  )

  async function relayOwn(request: FastifyRequest, reply: FastifyReply, context: { key?: string }) {
    await app.resumableUploads.relay(request, reply, context)
  }

  /** The caller's upload, or 404 (a malformed id, another user's, or one that became an image); 410 once expired. */
  async function ownUpload(request: FastifyRequest) {
    const { id } = request.params as { id: string }
    if (!UUID.test(id)) throw new ApiError(404, 'no such resumable upload')
    const upload = await app.repos.pendingUploads.findByOwner(id.toLowerCase(), request.account.id)
    if (!upload || upload.kind !== 'resumable') throw new ApiError(404, 'no such resumable upload')
    if (upload.expires_at.getTime() <= app.clock()) {
      await endUpload(app, request, upload, resumableExtraKeys(upload))
      throw new ApiError(410, 'this upload expired after receiving nothing for a while; start a new one')
    }
    return upload
  }

  for (const method of ['HEAD', 'PATCH', 'DELETE'] as const) {
    app.route({
      method,
      url: `${RESUMABLE_UPLOADS_PATH}/:id`,
      preHandler: app.authenticate,
      schema: {
        tags: ['uploads'],
        summary: {
          HEAD: 'How much of a resumable upload has arrived (TUS: Upload-Offset)',
          PATCH: 'Send the next bytes of a resumable upload (TUS)',
          DELETE: 'Cancel a resumable upload (TUS termination)',
        }[method],
        security: [{ bearerAuth: [] }],
        params: UploadIdParams,
        headers: TUS_HEADERS,
        response: errorResponses(400, 401, 404, 409, 410, 412, 413, 415, 503),
      },
      handler: async (request, reply) => {
        requireTus(request)
        const upload = await ownUpload(request)
        if (method === 'DELETE') {
          // TUS termination, done here so the row is gone before the client hears 204
          await endUpload(app, request, upload, resumableExtraKeys(upload))
          return reply.code(204).header('tus-resumable', '1.0.0').send()
        }
        if (method === 'PATCH') await app.repos.pendingUploads.extend(upload.id, new Date(app.clock() + options.idleSeconds * 1000))
        await relayOwn(request, reply, {})
      },
    })
  }
}

export default resumableUpload
