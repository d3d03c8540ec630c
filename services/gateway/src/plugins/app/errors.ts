import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { ImageRejectedError } from '@imageapi/image-probe'
import { StorageUnavailableError } from '@imageapi/storage'
import { isDatabaseUnavailable } from '@imageapi/db'
import { AccountError } from '@imageapi/accounts'
import { MULTIPART_LIMITS } from '../external/multipart.js'

/** What an upload route takes, said to a client that sent anything else (a raw image/png, JSON). */
export const UPLOAD_MEDIA_TYPE_MESSAGE = 'the upload must be multipart/form-data (content-type: multipart/form-data), with the file in the field "image"'
/** What every other route with a body takes (a form, application/x-www-form-urlencoded, is read too). */
export const JSON_MEDIA_TYPE_MESSAGE = 'the body must be JSON (content-type: application/json)'

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

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `drf`: the route keeps the error shapes of the API we replace (Django REST framework):
     * `{"field": ["Message."]}` or `{"detail": "Message."}`, which its clients parse.
     */
    errorShape?: 'drf'
    /** For `drf` routes: the fields an empty body lacks, each answered "This field is required." as DRF does. */
    requiredFields?: string[]
    /** A route's own message for a field that fails its schema, whatever the schema keyword. */
    fieldMessages?: Record<string, string>
  }
}

/** Why a JSON body could not be read (see the json-body plugin); `detail` says it for a person. */
export class JsonBodyError extends Error {
  readonly statusCode = 400
  constructor(
    readonly kind: 'empty' | 'syntax' | 'forbidden_key',
    readonly detail: string,
  ) {
    super(kind === 'empty' ? 'the body is empty: send a JSON object' : kind === 'syntax' ? `the body is not valid JSON: ${detail}` : detail)
    this.name = 'JsonBodyError'
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

/** The statuses and messages of client errors that fastify and its plugins raise. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; message?: string; field?: string }> = {
  FST_REQ_FILE_TOO_LARGE: { status: 413, message: 'the file is larger than the upload limit', field: 'image' },
  FST_PARTS_LIMIT: { status: 413, message: `too many parts in the multipart body (at most ${MULTIPART_LIMITS.parts})` },
  FST_FILES_LIMIT: { status: 400, message: 'send exactly one file, in the field "image"', field: 'image' },
  FST_FIELDS_LIMIT: { status: 400, message: `too many fields in the multipart body (at most ${MULTIPART_LIMITS.fields})` },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, message: UPLOAD_MEDIA_TYPE_MESSAGE, field: 'image' },
  FST_MULTIPART_INVALID_CONTENT_TYPE: { status: 415, message: UPLOAD_MEDIA_TYPE_MESSAGE, field: 'image' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, message: 'the body is empty: send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, message: 'the body is not valid JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, message: 'the body is larger than the limit (64 KiB)' },
}

/** Whether the route takes a multipart upload (its schema says so), rather than JSON. */
function takesUpload(request: FastifyRequest): boolean {
  const consumes = (request.routeOptions.schema as { consumes?: string[] } | undefined)?.consumes
  return consumes?.includes('multipart/form-data') ?? false
}

/** A body of a type no parser takes: say what the route takes instead. */
function unsupportedMediaType(request: FastifyRequest): ErrorBody {
  if (takesUpload(request)) return errorBody(415, UPLOAD_MEDIA_TYPE_MESSAGE, 'image')
  return errorBody(415, JSON_MEDIA_TYPE_MESSAGE)
}

type AjvError = { keyword: string; instancePath: string; message?: string; params: Record<string, unknown> }
type Schema = Record<string, unknown>

const VALIDATION_CONTEXT_KEYS: Record<string, keyof FastifySchema> = { body: 'body', querystring: 'querystring', params: 'params', headers: 'headers' }
const WHOLE_SUBJECT: Record<string, string> = { body: 'the body', querystring: 'the query string', params: 'the path', headers: 'the headers' }

/** The schema of the value at `path` inside a route's schema for one part of the request. */
function schemaAt(schema: unknown, path: string[]): Schema | undefined {
  let node = schema as Schema | undefined
  for (const segment of path) {
    if (!node || typeof node !== 'object') return undefined
    const properties = node.properties as Record<string, Schema> | undefined
    if (properties && segment in properties) node = properties[segment]
    else if (node.items && /^\d+$/.test(segment)) node = node.items as Schema
    else return undefined
  }
  return node
}

function withArticle(type: string): string {
  return type === 'null' ? 'null' : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`
}

function typeNames(types: unknown): string {
  const names = String(types).split(',').map(withArticle)
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0]!
}

/** What the schema allows, said shortly: for a union's alternatives. */
function describeSchema(schema: Schema): string {
  if ('const' in schema) return JSON.stringify(schema.const)
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(', ')
  if (schema.type === 'integer' && typeof schema.minimum === 'number' && typeof schema.maximum === 'number') return `an integer from ${schema.minimum} to ${schema.maximum}`
  if (schema.type === 'integer' && typeof schema.minimum === 'number') return `an integer of at least ${schema.minimum}`
  if (typeof schema.type === 'string') return withArticle(schema.type)
  return 'another value'
}

/** Ajv's terse messages, said as a sentence about the field (the field's name goes before it). */
function describeProblem(error: AjvError, schema: Schema | undefined): string {
  const params = error.params
  const integerRange =
    schema?.type === 'integer' && typeof schema.minimum === 'number' && typeof schema.maximum === 'number' ? `must be an integer from ${schema.minimum} to ${schema.maximum}` : undefined
  switch (error.keyword) {
    case 'required':
      return 'is required'
    case 'type':
      return integerRange ?? `must be ${typeNames(params.type)}`
    case 'minimum':
      return integerRange ?? `must be at least ${params.limit}`
    case 'maximum':
      return integerRange ?? `must be at most ${params.limit}`
    case 'exclusiveMinimum':
      return `must be greater than ${params.limit}`
    case 'exclusiveMaximum':
      return `must be less than ${params.limit}`
    case 'multipleOf':
      return integerRange ?? `must be a multiple of ${params.multipleOf}`
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters`
    case 'maxLength':
      return `must be at most ${params.limit} characters`
    case 'minItems':
      return `must have at least ${params.limit} ${params.limit === 1 ? 'item' : 'items'}`
    case 'maxItems':
      return `must have at most ${params.limit} ${params.limit === 1 ? 'item' : 'items'}`
    case 'uniqueItems':
      return 'must not contain the same value twice'
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(', ')}`
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`
    case 'format':
      return `must be a valid ${params.format}`
    case 'pattern':
      return `must match the pattern ${params.pattern}`
    case 'additionalProperties':
      return 'is not a field this request takes'
    case 'anyOf':
    case 'oneOf': {
      const alternatives = (schema?.anyOf ?? schema?.oneOf) as Schema[] | undefined
      return alternatives ? `must be one of: ${alternatives.map(describeSchema).join(', ')}` : 'does not match any allowed form'
    }
    default:
      return error.message ?? 'is not valid'
  }
}

function pathSubject(path: string[]): string {
  return path.map((segment, i) => (/^\d+$/.test(segment) ? `[${segment}]` : i === 0 ? segment : `.${segment}`)).join('')
}

/**
 * A schema validation error as the README shows it: a message naming the field (never fastify's
 * `body/` or `querystring/` prefix) and `field`, the top-level field at fault.
 */
export function describeValidation(error: FastifyError, request: FastifyRequest): { message: string; field?: string } {
  const errors = (error.validation ?? []) as AjvError[]
  let first = errors[0]
  if (!first) return { message: error.message }
  // a union's branches fail one by one before the union does: the union says more
  const union = errors.find((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && e.instancePath === first!.instancePath)
  if (union) first = union
  const context = error.validationContext ?? 'body'
  const path = first.instancePath
    .split('/')
    .filter(Boolean)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
  const property = first.params.missingProperty ?? first.params.additionalProperty
  if (typeof property === 'string') path.push(property)
  const field = path[0]
  const configured = field ? request.routeOptions.config?.fieldMessages?.[field] : undefined
  if (configured && path.length === 1) return { message: configured, field }
  const key = VALIDATION_CONTEXT_KEYS[context]
  const schema = key ? schemaAt(request.routeOptions.schema?.[key], path) : undefined
  if (path.length === 0) {
    if (context === 'body' && first.keyword === 'type') {
      if (request.body === undefined || request.body === null) return { message: `the request has no body: send a JSON object (content-type: application/json)` }
      return { message: 'the body must be a JSON object' }
    }
    return { message: `${WHOLE_SUBJECT[context] ?? context} ${describeProblem(first, schema)}` }
  }
  return { message: `${pathSubject(path)} ${describeProblem(first, schema)}`, field }
}

export function toErrorResponse(error: unknown, request: FastifyRequest): ErrorBody {
  if (error instanceof ApiError) return errorBody(error.statusCode, error.message, error.field)
  if (error instanceof ImageRejectedError) return errorBody(IMAGE_REJECTION_STATUS[error.code], error.message, 'image')
  if (error instanceof AccountError) return errorBody(ACCOUNT_ERROR_STATUS[error.reason], error.message, error.reason === 'not_found' ? undefined : error.field)
  if (error instanceof StorageUnavailableError || isDatabaseUnavailable(error)) {
    request.log.warn({ err: error }, 'dependency unavailable')
    return errorBody(503, 'the service is temporarily unavailable, try again shortly')
  }
  if (error instanceof JsonBodyError) return errorBody(400, error.message)
  const fastifyError = error as FastifyError
  if (fastifyError.validation) {
    const { message, field } = describeValidation(fastifyError, request)
    return errorBody(400, message, field)
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaType(request)
  const known = fastifyError.code ? FASTIFY_CLIENT_ERRORS[fastifyError.code] : undefined
  if (known) return errorBody(known.status, known.message ?? fastifyError.message, known.field)
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return errorBody(fastifyError.statusCode, fastifyError.message)
  }
  request.log.error({ err: error }, 'unhandled error')
  return errorBody(500, 'internal error')
}

/** Fastify's default for a path parameter's length (find-my-way's maxParamLength). */
export const MAX_PARAM_LENGTH = 100

/**
 * Errors the router raises before any route or hook (a path that is not valid percent-encoding, a
 * path parameter over MAX_PARAM_LENGTH), in the same shape as every other error (the `frameworkErrors` option).
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split('?')[0]!.slice(0, 200)
  let message = `the path ${path} is not valid`
  if (error.code === 'FST_ERR_BAD_URL') message = `the path ${path} is not valid percent-encoding`
  else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') message = `a path parameter is longer than ${MAX_PARAM_LENGTH} characters, longer than any id`
  reply.code(400).type('application/json; charset=utf-8').send(errorBody(400, message))
}

const DRF_FIELD_REQUIRED = 'This field is required.'

/** DRF's messages are sentences: a capital first letter and a full stop. */
function sentence(message: string): string {
  const text = message.charAt(0).toUpperCase() + message.slice(1)
  return /[.!?]$/.test(text) ? text : `${text}.`
}

/**
 * The error as the API we replace (DRF) would shape it, for the routes that keep its shapes:
 * undefined for the answers those routes document in our own shape (429, 5xx) or their own (401).
 */
export function toDrfResponse(error: unknown, request: FastifyRequest, body: ErrorBody): { statusCode: number; body: Record<string, unknown> } | undefined {
  if (body.statusCode >= 500 || body.statusCode === 429 || body.statusCode === 401) return undefined
  if (error instanceof JsonBodyError) {
    const required = request.routeOptions.config?.requiredFields
    // DRF reads an empty body as no data: every required field is missing
    if (error.kind === 'empty' && required) return { statusCode: 400, body: Object.fromEntries(required.map((field) => [field, [DRF_FIELD_REQUIRED]])) }
    return { statusCode: 400, body: { detail: `JSON parse error - ${error.detail}` } }
  }
  if ((error as FastifyError).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim()
    return { statusCode: 415, body: { detail: `Unsupported media type "${type}" in request.` } }
  }
  if (body.field) return { statusCode: body.statusCode, body: { [body.field]: [sentence(body.message)] } }
  return { statusCode: body.statusCode, body: { detail: sentence(body.message) } }
}

interface KnownRoute {
  pattern: RegExp
  methods: string[]
  drf: boolean
}

/** A route's path as a pattern for a request path: parameters match one segment, `*` the rest; a trailing slash is optional. */
function routePattern(url: string): RegExp {
  const trimmed = url.replace(/\/+$/, '')
  const source = trimmed
    .split(/(:[A-Za-z0-9_]+(?:\([^)]*\))?|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('')
  return new RegExp(`^${source}/*$`)
}

/** Every error leaves as JSON with a message a client can act on; a 5xx never shows internals. */
export default fp(
  async (app) => {
    // what is routed where, so that a known path asked with another method answers 405, not 404
    const known: KnownRoute[] = []
    app.addHook('onRoute', (route) => {
      // catch-alls (CORS's OPTIONS *) would make every path known
      if (route.url === '*' || route.url === '/*') return
      const methods = [route.method].flat().map((method) => String(method).toUpperCase())
      known.push({ pattern: routePattern(route.url), methods, drf: route.config?.errorShape === 'drf' })
    })
    const allowedMethods = (path: string): { methods: string[]; drf: boolean } => {
      const methods = new Set<string>()
      let drf = false
      for (const route of known) {
        if (!route.pattern.test(path)) continue
        for (const method of route.methods) methods.add(method)
        drf ||= route.drf
      }
      if (methods.has('GET')) methods.add('HEAD')
      return { methods: [...methods].sort(), drf }
    }

    app.setErrorHandler((error, request, reply: FastifyReply) => {
      const body = toErrorResponse(error, request)
      if (body.statusCode === 503) reply.header('retry-after', '5')
      const drf = request.routeOptions.config?.errorShape === 'drf' ? toDrfResponse(error, request, body) : undefined
      // a route's response schema describes its own answers (the compat upload's 503 is
      // {"detail"}): serialized through it, this body would fail and leave as a bare 500
      return reply
        .code(drf?.statusCode ?? body.statusCode)
        .type('application/json; charset=utf-8')
        .serializer(JSON.stringify)
        .send(drf?.body ?? body)
    })
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0]!
      const allowed = allowedMethods(path)
      if (allowed.methods.length > 0 && !allowed.methods.includes(request.method)) {
        const allow = allowed.methods.join(', ')
        reply.code(405).header('allow', allow)
        if (allowed.drf) return reply.send({ detail: `Method "${request.method}" not allowed.` })
        return reply.send(errorBody(405, `${request.method} is not allowed on ${path}; it allows ${allow}`))
      }
      return reply.code(404).send(errorBody(404, `no route for ${request.method} ${path}`))
    })
  },
  { name: 'errors' },
)
