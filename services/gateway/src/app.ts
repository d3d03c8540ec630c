import Fastify, { type FastifyInstance } from 'fastify'
import { echoRequestId, operations, requestIdOptions } from '@imageapi/http-service'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { lazyChildLoggerFactory, loggerOptions } from '@imageapi/logger'
import { pingDatabase, type Database, type Kysely } from '@imageapi/db'
import { pingQueue, redisTargetFromConfig } from '@imageapi/queue'
import { minioConfigFromEnv, type ObjectStorage } from '@imageapi/storage'
import type { GatewayConfig } from './config.js'
import jwtPlugin from './plugins/external/jwt.js'
import multipartPlugin from './plugins/external/multipart.js'
import formBodyPlugin from './plugins/external/form-body.js'
import jsonBodyPlugin from './plugins/external/json-body.js'
import swaggerPlugin from './plugins/external/swagger.js'
import errorsPlugin, { frameworkErrorHandler, MAX_PARAM_LENGTH } from './plugins/app/errors.js'
import databasePlugin from './plugins/app/database.js'
import storagePlugin from './plugins/app/storage.js'
import thumbnailQueuePlugin from './plugins/app/thumbnail-queue.js'
import webhookQueuePlugin from './plugins/app/webhook-queue.js'
import viewLinksPlugin from './plugins/app/view-links.js'
import viewAnswersPlugin from './plugins/app/view-answers.js'
import authenticatePlugin from './plugins/app/authenticate.js'
import metricsPlugin from './plugins/app/metrics.js'
import rateLimitsPlugin from './plugins/app/rate-limits.js'
import securityHeadersPlugin from './plugins/external/security-headers.js'
import { AuthErrorResponse, ErrorResponse } from './routes/schemas.js'
import obtainToken from './routes/auth/obtain-token.js'
import refreshToken from './routes/auth/refresh-token.js'
import logout from './routes/auth/logout.js'
import listSessions from './routes/sessions/list-sessions.js'
import endSession from './routes/sessions/end-session.js'
import uploadImage from './routes/images/upload-image.js'
import listImages from './routes/images/list-images.js'
import getImage from './routes/images/get-image.js'
import deleteImage from './routes/images/delete-image.js'
import forwardViewLinks from './routes/links/forward-view-links.js'
import createExpiringLink from './routes/links/create-expiring-link.js'
import listExpiringLinks from './routes/links/list-expiring-links.js'
import revokeExpiringLink from './routes/links/revoke-expiring-link.js'
import thumbnailReadinessPlugin from './plugins/app/thumbnail-readiness.js'
import imageReadinessPlugin from './plugins/app/image-readiness.js'
import uploadCompatImage from './routes/compat/upload-image.js'
import listCompatUploads from './routes/compat/list-uploads.js'
import openCompatViewLink from './routes/compat/open-view-link.js'
import compatApiSchema from './routes/compat/api-schema.js'
import { tierRulesFromConfig } from '@imageapi/accounts'
import requireAdminPlugin from './plugins/app/require-admin.js'
import backfillsPlugin from './plugins/app/backfills.js'
import adminRoutes from './routes/admin/index.js'
import createDirectUpload from './routes/uploads/create-direct-upload.js'
import completeUpload from './routes/uploads/complete-upload.js'
import webhookRoutes from './routes/webhooks/index.js'
import resumableUpload from './routes/uploads/resumable-upload.js'
import resumableUploadsPlugin from './plugins/app/resumable-uploads.js'
import { resumableUploadHooks } from './services/resumable-upload-hooks.js'

export interface BuildOptions {
  config: GatewayConfig
  /** Overrides for tests: share a database or storage client the test owns. */
  db?: Kysely<Database>
  storage?: ObjectStorage
  /** Milliseconds since the epoch; tests move time without sleeping. */
  clock?: () => number
}

/** Builds the gateway without listening; server.ts listens, tests use inject. */
declare module 'fastify' {
  interface FastifyInstance {
    clock(): number
  }
}

export async function buildApp({ config, db, storage, clock }: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions({ name: 'gateway', level: config.LOG_LEVEL }),
    childLoggerFactory: lazyChildLoggerFactory,
    trustProxy: config.TRUST_PROXY,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // a malformed path or an overlong parameter answers in the API's error shape, like every error
    frameworkErrors: frameworkErrorHandler,
    // a caller's request id is kept (when sane) so one id follows a request through every service
    ...requestIdOptions,
    bodyLimit: 64 * 1024,
  }).withTypeProvider<TypeBoxTypeProvider>()

  echoRequestId(app)
  app.decorate('clock', clock ?? Date.now)
  app.addSchema(ErrorResponse)
  app.addSchema(AuthErrorResponse)

  await app.register(errorsPlugin)
  await app.register(jsonBodyPlugin)
  await app.register(securityHeadersPlugin, { corsOrigins: config.CORS_ORIGINS })
  await app.register(swaggerPlugin)
  await app.register(jwtPlugin, { secret: config.JWT_SECRET })
  await app.register(databasePlugin, { databaseUrl: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, ...(db ? { db } : {}) })
  await app.register(storagePlugin, storage ? { storage } : { config: { ...minioConfigFromEnv(config), uploadBufferBytes: config.UPLOAD_BUFFER_BYTES } })
  // one server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES, which wins): every Redis user below
  const redis = redisTargetFromConfig(config)
  await app.register(thumbnailQueuePlugin, { redis, prefix: config.QUEUE_PREFIX })
  await app.register(webhookQueuePlugin, { redis, prefix: config.QUEUE_PREFIX })
  await app.register(operations, {
    checks: { postgres: () => pingDatabase(app.db), redis: () => pingQueue(app.thumbnailQueue), storage: () => app.storage.ping() },
    ...(config.METRICS_TOKEN ? { metricsToken: config.METRICS_TOKEN } : {}),
  })
  await app.register(metricsPlugin)
  await app.register(viewLinksPlugin, { signingKeys: config.LINK_SIGNING_KEYS, ...(config.PUBLIC_URL ? { publicUrl: config.PUBLIC_URL } : {}) })
  await app.register(viewAnswersPlugin, { maxBytes: config.VIEW_ANSWER_CACHE_BYTES, maxObjectBytes: config.VIEW_ANSWER_CACHE_MAX_OBJECT_BYTES })
  await app.register(rateLimitsPlugin, {
    redis: config.RATE_LIMIT_REDIS_URL ? { url: config.RATE_LIMIT_REDIS_URL } : redis,
    prefix: config.QUEUE_PREFIX,
    windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS,
    loginFailureWindowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
  })
  await app.register(authenticatePlugin, {
    accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
  })

  await app.register(formBodyPlugin)
  await app.register(obtainToken, { perIp: config.LOGIN_RATE_LIMIT_PER_IP, perEmail: config.LOGIN_RATE_LIMIT_PER_EMAIL, slowAfter: config.LOGIN_SLOWDOWN_AFTER })
  await app.register(refreshToken, { perIp: config.REFRESH_RATE_LIMIT_PER_IP, perUser: config.REFRESH_RATE_LIMIT_PER_USER })
  await app.register(logout, { perIp: config.REFRESH_RATE_LIMIT_PER_IP, perUser: config.REFRESH_RATE_LIMIT_PER_USER })
  await app.register(listSessions)
  await app.register(endSession)
  const uploadOptions = {
    maxBytes: config.UPLOAD_MAX_BYTES,
    maxPixels: config.UPLOAD_MAX_PIXELS,
    perUserPerWindow: config.UPLOAD_RATE_LIMIT_PER_USER,
    perIpPerWindow: config.UPLOAD_RATE_LIMIT_PER_IP,
  }
  // multipart parsing only where uploads happen; the rest of the API takes JSON
  await app.register(async (uploads) => {
    await uploads.register(multipartPlugin, { maxBytes: config.UPLOAD_MAX_BYTES })
    await uploads.register(uploadImage, uploadOptions)
  })
  const stagedUploadOptions = { ...uploadOptions, urlSeconds: config.UPLOAD_URL_SECONDS, maxPendingPerUser: config.UPLOAD_PENDING_PER_USER }
  await app.register(createDirectUpload, stagedUploadOptions)
  const uploadLimits = { maxBytes: config.UPLOAD_MAX_BYTES, maxPixels: config.UPLOAD_MAX_PIXELS }
  await app.register(completeUpload, uploadLimits)
  // TUS needs the store's address and keys itself (it keeps its state in the bucket)
  await app.register(resumableUploadsPlugin, {
    storage: minioConfigFromEnv(config),
    redis,
    prefix: config.QUEUE_PREFIX,
    maxBytes: config.UPLOAD_MAX_BYTES,
    corsOrigins: config.CORS_ORIGINS?.split(',').map((origin) => origin.trim()) ?? [],
    hooks: resumableUploadHooks(app, uploadLimits),
  })
  await app.register(resumableUpload, {
    maxBytes: config.UPLOAD_MAX_BYTES,
    maxPendingPerUser: config.UPLOAD_PENDING_PER_USER,
    idleSeconds: config.RESUMABLE_UPLOAD_IDLE_SECONDS,
    perUserPerWindow: config.UPLOAD_RATE_LIMIT_PER_USER,
    perIpPerWindow: config.UPLOAD_RATE_LIMIT_PER_IP,
  })
  await app.register(listImages)
  // wake-ups for waits on thumbnails (GET /api/images/{id}?wait=ready, the compat upload's wait): one queue-events connection
  await app.register(imageReadinessPlugin, { redis, prefix: config.QUEUE_PREFIX })
  await app.register(getImage)
  await app.register(deleteImage)
  await app.register(createExpiringLink, {
    maxLivePerImage: config.LINK_MAX_LIVE_PER_IMAGE,
    perUser: config.LINK_RATE_LIMIT_PER_USER,
    perIp: config.LINK_RATE_LIMIT_PER_IP,
  })
  await app.register(listExpiringLinks)
  await app.register(revokeExpiringLink)
  // Webhook endpoints (issue 17): registered and managed here; deliveries are sent by the dispatcher
  await app.register(webhookRoutes, {
    maxPerUser: config.WEBHOOK_ENDPOINTS_PER_USER,
    allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK,
    allowHttp: config.WEBHOOK_ALLOW_HTTP,
  })
  await app.register(forwardViewLinks, { linksUrl: config.LINKS_URL })
  // outside the compat context below: reply-from must not share a context with multipart parsing
  await app.register(openCompatViewLink, { linksUrl: config.LINKS_URL })
  // The routes of the Django API we replace (issue 5), mapped onto our model; documented as legacy.
  await app.register(async (compat) => {
    await compat.register(thumbnailReadinessPlugin)
    await compat.register(multipartPlugin, { maxBytes: config.UPLOAD_MAX_BYTES })
    await compat.register(uploadCompatImage, { ...uploadOptions, waitMs: config.COMPAT_UPLOAD_WAIT_MS })
    await compat.register(listCompatUploads)
    await compat.register(compatApiSchema)
  })
  // Admins (issue 4): the admin API under /api/admin/, the queue dashboard at /admin/queues, the console at /admin/
  await app.register(requireAdminPlugin, { cookieTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS })
  await app.register(backfillsPlugin)
  await app.register(adminRoutes, { tierRules: tierRulesFromConfig(config) })

  return app
}
