import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { checkCompatForm, CUSTOM_BOX, type CompatRouteKind } from '../../services/compat-form.js'
import { createCompatUpload, mayUseRoute } from '../../services/compat-uploads.js'
import { receiveForm, type ReceivedForm } from '../../services/receive-upload.js'
import { EXPIRING_LINK_SECONDS } from '../../services/expiring-links.js'
import type { UploadRouteOptions } from '../images/upload-image.js'
import { TITLE_MAX_LENGTH } from '../../schemas/titles.js'
import { COMPAT_DOCS, CompatDetail, CompatFieldErrors, LEGACY_NOTE, PERMISSION_DENIED } from './schemas.js'
import { uploadRateLimited } from '../../services/upload-rate-limit.js'

const UPLOADED = { status: 'Uploaded' } as const
const STILL_PROCESSING = {
  detail: 'The image was uploaded and is still being processed; it is in /api/list/ already and its link opens once it is ready. Do not upload it again.',
}

const ROUTES: Array<{ path: string; kind: CompatRouteKind; asks: string }> = [
  { path: '/api/upload/small/', kind: 'small', asks: 'the 200 px high thumbnail (tiers whose heights include 200)' },
  { path: '/api/upload/medium/', kind: 'medium', asks: 'the 400 px high thumbnail (tiers whose heights include 400)' },
  { path: '/api/upload/orginal/', kind: 'original', asks: 'the original file (tiers with original links; the path is spelled as that API spelled it)' },
  { path: '/api/upload/original/', kind: 'original', asks: 'the original file (tiers with original links)' },
  { path: '/api/upload/custom/', kind: 'custom', asks: `a rendition that fits inside \`width\` × \`height\` (${CUSTOM_BOX.min}–${CUSTOM_BOX.max} px each), aspect kept (admins)` },
]

/** The form sent as JSON or urlencoded fields: nothing in it can be a file, as DRF would say. */
function formFromBody(body: unknown): ReceivedForm {
  const fields: Record<string, string> = {}
  let sentImage = false
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    for (const [name, value] of Object.entries(body)) {
      if (name === 'image') sentImage = true
      else if (['string', 'number', 'boolean'].includes(typeof value)) fields[name] = String(value)
    }
  }
  return sentImage ? { fields, problem: { kind: 'not_a_file' } } : { fields }
}

export interface CompatUploadRouteOptions extends UploadRouteOptions {
  /** How long to wait for the variant before answering 503 "still processing". */
  waitMs: number
}

const uploadCompatImage: FastifyPluginAsyncTypebox<CompatUploadRouteOptions> = async (app, options) => {
  const limits = { maxBytes: options.maxBytes, maxPixels: options.maxPixels }

  for (const route of ROUTES) {
    // as there: authentication, then the permission (403 before the form is read), then the form
    const mayUse = async (request: FastifyRequest, reply: FastifyReply) => {
      if (!mayUseRoute(route.kind, request.account)) return reply.code(403).send(PERMISSION_DENIED)
    }
    app.post(
      route.path,
      {
        preHandler: [
          app.authenticate,
          mayUse,
          uploadRateLimited(app, options),
        ],
        // every error in DRF's shapes ({"image": [...]} or {"detail": ...}), as the form's own errors
        config: { errorShape: 'drf' },
        // the body is a stream read by the handler; this schema documents it and is not used to validate
        validatorCompiler: () => () => true,
        schema: {
          ...COMPAT_DOCS,
          summary: `Upload an image; its entry in /api/list/ links to ${route.asks}`,
          description: `${LEGACY_NOTE}\n\nMultipart form: \`title\` (required, at most ${TITLE_MAX_LENGTH} characters), \`image\` (PNG or JPEG, at most ${options.maxBytes} bytes and ${options.maxPixels} pixels), \`expired_time\` (optional, ${EXPIRING_LINK_SECONDS.min}–${EXPIRING_LINK_SECONDS.max} seconds, for tiers with expiring links; empty means none)${route.kind === 'custom' ? ', `height` and `width` (required)' : ''}. The image is stored like any upload (every thumbnail of your tier is made); the answer comes once the requested file exists, or 503 after COMPAT_UPLOAD_WAIT_MS (the work goes on). Errors are lists of messages by field.`,
          security: [{ bearerAuth: [] }],
          consumes: ['multipart/form-data'],
          body: Type.Object({
            title: Type.String({ maxLength: TITLE_MAX_LENGTH }),
            image: Type.String({ format: 'binary' }),
            expired_time: Type.Optional(Type.Integer({ minimum: EXPIRING_LINK_SECONDS.min, maximum: EXPIRING_LINK_SECONDS.max })),
            ...(route.kind === 'custom'
              ? { height: Type.Integer({ minimum: CUSTOM_BOX.min, maximum: CUSTOM_BOX.max }), width: Type.Integer({ minimum: CUSTOM_BOX.min, maximum: CUSTOM_BOX.max }) }
              : {}),
          }),
          response: {
            201: Type.Object({ status: Type.Literal('Uploaded') }),
            400: Type.Union([CompatFieldErrors, CompatDetail]),
            401: Type.Ref('AuthError'),
            403: CompatDetail,
            405: CompatDetail,
            413: Type.Union([CompatFieldErrors, CompatDetail]),
            415: CompatDetail,
            429: Type.Ref('Error'),
            503: CompatDetail,
          },
        },
      },
      async (request, reply) => {
        const account = request.account
        const form = request.isMultipart() ? await receiveForm(app, request, limits) : formFromBody(request.body)
        // The answer is sent only once a refused file is gone: a client that checks right after a
        // 400 must find no object left behind.
        let answer: CompatAnswer
        try {
          answer = await answerCompatUpload(form)
        } finally {
          await form.file?.discard()
        }
        if (answer.retryAfter) reply.header('retry-after', answer.retryAfter)
        return reply.code(answer.status).send(answer.body)

        async function answerCompatUpload(received: typeof form): Promise<CompatAnswer> {
          const checked = checkCompatForm(route.kind, account, { fields: received.fields, hasFile: received.file !== undefined, problem: received.problem })
          if (!checked.ok) {
            app.uploadMetrics.uploads.inc({ outcome: `invalid_${Object.keys(checked.errors)[0]}` })
            return { status: checked.status, body: checked.errors }
          }
          const file = received.file!
          const outcome = await createCompatUpload(app, request, account, { kind: route.kind, stored: file, values: checked.values, waitMs: options.waitMs })
          if (outcome.kind === 'invalid') {
            app.uploadMetrics.uploads.inc({ outcome: `invalid_${Object.keys(outcome.errors)[0]}` })
            return { status: 400, body: outcome.errors }
          }
          app.uploadMetrics.uploads.inc({ outcome: 'accepted' })
          app.uploadMetrics.bytes.inc(file.image.bytes)
          if (outcome.kind === 'processing') return { status: 503, body: STILL_PROCESSING, retryAfter: '5' }
          return { status: 201, body: UPLOADED }
        }
      },
    )
  }
}

/** What a compat upload answers: decided before the refused file is discarded, sent after. */
interface CompatAnswer {
  status: 201 | 400 | 413 | 415 | 503
  body: Record<string, string[]> | { status: 'Uploaded' } | { detail: string }
  retryAfter?: string
}

export default uploadCompatImage
