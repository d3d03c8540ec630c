import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { ImageRejectedError } from '@imageapi/image-probe'
import { StorageUnavailableError } from '@imageapi/storage'
import { isDatabaseUnavailable } from '@imageapi/db'
import { AccountError } from '@imageapi/accounts'

/** An error a route means to show the client: status, a message that says what is wrong, and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface ErrorBody {
  statusCode: number
  error: string
  message: string
  field?: string
}

export function errorBody(statusCode: number, message: string, field?: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, ...(field ? { field } : {}) }
}

/** The admin rules (shared with the CLI) say why they refused; the status follows from it. */
const ACCOUNT_ERROR_STATUS: Record<AccountError['reason'], number> = { invalid: 400, not_found: 404, conflict: 409 }

const IMAGE_REJECTION_STATUS: Record<ImageRejectedError['code'], number> = {
  empty: 400,
  unsupported_format: 415,
  too_large: 413,
  too_many_pixels: 413,
  invalid_image: 400,
}

/** Client errors that fastify and its plugins raise, with the status they deserve. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; message?: string }> = {
  FST_REQ_FILE_TOO_LARGE: { status: 413 },
  FST_PARTS_LIMIT: { status: 413, message: 'too many parts in the multipart body' },
  FST_FILES_LIMIT: { status: 400, message: 'send exactly one file, in the field "image"' },
  FST_FIELDS_LIMIT: { status: 400, message: 'too many fields in the multipart body' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, message: 'the request must be multipart/form-data' },
  FST_MULTIPART_INVALID_CONTENT_TYPE: { status: 415, message: 'the request must be multipart/form-data' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415 },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, message: 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, message: 'the body is not valid JSON' },
}

function validationField(error: FastifyError): string | undefined {
  const first = error.validation?.[0]
  if (!first) return undefined
  const missing = (first.params as { missingProperty?: string } | undefined)?.missingProperty
  if (missing) return missing
  const path = first.instancePath?.replace(/^\//, '').split('/')[0]
  return path || undefined
}

export function toErrorResponse(error: unknown, request: FastifyRequest): ErrorBody {
  if (error instanceof ApiError) return errorBody(error.statusCode, error.message, error.field)
  if (error instanceof ImageRejectedError) return errorBody(IMAGE_REJECTION_STATUS[error.code], error.message, 'image')
  if (error instanceof AccountError) return errorBody(ACCOUNT_ERROR_STATUS[error.reason], error.message, error.reason === 'not_found' ? undefined : error.field)
  if (error instanceof StorageUnavailableError || isDatabaseUnavailable(error)) {
    request.log.warn({ err: error }, 'dependency unavailable')
    return errorBody(503, 'the service is temporarily unavailable, try again shortly')
  }
  const fastifyError = error as FastifyError
  if (fastifyError.validation) {
    const field = validationField(fastifyError)
    return errorBody(400, fastifyError.message, field)
  }
  const known = fastifyError.code ? FASTIFY_CLIENT_ERRORS[fastifyError.code] : undefined
  if (known) return errorBody(known.status, known.message ?? fastifyError.message)
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return errorBody(fastifyError.statusCode, fastifyError.message)
  }
  request.log.error({ err: error }, 'unhandled error')
  return errorBody(500, 'internal error')
}

/** Every error leaves as JSON with a message a client can act on; a 5xx never shows internals. */
export default fp(
  async (app) => {
    app.setErrorHandler((error, request, reply: FastifyReply) => {
      const body = toErrorResponse(error, request)
      if (body.statusCode === 503) reply.header('retry-after', '5')
      // a route's response schema describes its own answers (the compat upload's 503 is
      // {"detail"}): serialized through it, this body would fail and leave as a bare 500
      return reply.code(body.statusCode).type('application/json; charset=utf-8').serializer(JSON.stringify).send(body)
    })
    app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody(404, `no route for ${request.method} ${request.url.split('?')[0]}`)))
  },
  { name: 'errors' },
)
