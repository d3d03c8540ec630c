import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { echoRequestId, operations, requestIdOptions } from '@imageapi/http-service'
import { createDatabase, createRepositories, isDatabaseUnavailable, pingDatabase, type Database, type Kysely, type Repositories } from '@imageapi/db'
import { createLinkSigner, parseSigningKeys, type LinkSigner } from '@imageapi/link-tokens'
import { lazyChildLoggerFactory, loggerOptions } from '@imageapi/logger'
import { createMinioStorage, minioConfigFromEnv, ObjectNotFoundError, StorageUnavailableError, type ObjectStorage } from '@imageapi/storage'
import type { LinksConfig } from './config.js'
import viewLink, { LINK_NOT_FOUND } from './routes/view-link.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>
    repos: Repositories
    storage: ObjectStorage
    linkSigner: LinkSigner
    /** Milliseconds since the epoch; injectable so tests can move time. */
    clock(): number
  }
}

export interface BuildOptions {
  config: LinksConfig
  db?: Kysely<Database>
  storage?: ObjectStorage
  clock?: () => number
}

/** Builds the links service without listening; server.ts listens, tests use inject. */
export async function buildApp({ config, db, storage, clock }: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions({ name: 'links', level: config.LOG_LEVEL }),
    childLoggerFactory: lazyChildLoggerFactory,
    ...requestIdOptions,
    // a token too long for the router, or a path that is not UTF-8, is just a link that does not exist
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      if (error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        return reply.code(404).header('cache-control', 'no-store').send(LINK_NOT_FOUND)
      }
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: error.message })
    },
  })

  echoRequestId(app)
  await app.register(
    fp(async (instance) => {
      const database = db ?? createDatabase(config.DATABASE_URL, { applicationName: 'imageapi-links', max: config.DATABASE_POOL_MAX })
      if (!db) instance.addHook('onClose', async () => database.destroy())
      instance.decorate('db', database)
      instance.decorate('repos', createRepositories(database))
      instance.decorate('storage', storage ?? createMinioStorage(minioConfigFromEnv(config)))
      instance.decorate('linkSigner', createLinkSigner(parseSigningKeys(config.LINK_SIGNING_KEYS)))
      instance.decorate('clock', clock ?? Date.now)
    }),
  )

  await app.register(operations, {
    checks: { postgres: () => pingDatabase(app.db), storage: () => app.storage.ping() },
    ...(config.METRICS_TOKEN ? { metricsToken: config.METRICS_TOKEN } : {}),
  })

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ObjectNotFoundError) {
      request.log.error({ err: error }, 'a ready row points at a missing object')
      return reply.code(404).send(LINK_NOT_FOUND)
    }
    if (error instanceof StorageUnavailableError || isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'dependency unavailable')
      return reply.code(503).header('retry-after', '5').send({ statusCode: 503, error: 'Service Unavailable', message: 'the service is temporarily unavailable, try again shortly' })
    }
    request.log.error({ err: error }, 'unhandled error')
    return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' })
  })
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(LINK_NOT_FOUND))

  const publicStorage = config.S3_PUBLIC_ENDPOINT ? createMinioStorage(minioConfigFromEnv(config, config.S3_PUBLIC_ENDPOINT)) : undefined
  await app.register(viewLink, {
    rightsCacheMs: config.LINK_CHECK_CACHE_MS,
    thumbnailMaxAgeSeconds: config.LINK_THUMBNAIL_MAX_AGE_SECONDS,
    bodyCacheBytes: config.LINK_BODY_CACHE_BYTES,
    bodyCacheMaxObjectBytes: config.LINK_BODY_CACHE_MAX_OBJECT_BYTES,
    ...(config.LINKS_REDIRECT ? { redirect: { storage: publicStorage ?? app.storage, maxSeconds: config.LINKS_REDIRECT_MAX_SECONDS } } : {}),
  })
  return app
}
