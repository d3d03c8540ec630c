import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Server, type ServerOptions } from '@tus/server'
import { S3Store } from '@tus/s3-store'
import type { MinioStorageConfig } from '@imageapi/storage'
import type { RedisTarget } from '@imageapi/queue'
import { createRedisUploadLocker } from './resumable-upload-locks.js'

/** What a relayed TUS request needs from the Fastify request that carried it. */
export interface ResumableRequestContext {
  request: FastifyRequest
  /** The upload's staged key (the TUS upload id in storage); set when the upload is being created. */
  key?: string
}

export interface ResumableUploads {
  /** The path TUS clients use; an upload's URL is this path plus its id. */
  path: string
  /** Relays a request to the TUS server; the caller has authenticated it and checked the upload is the caller's. */
  relay(request: FastifyRequest, reply: FastifyReply, context: Omit<ResumableRequestContext, 'request'>): Promise<void>
  /** The Fastify request a TUS callback's request came from. */
  contextOf(tusRequest: { runtime?: { node?: { req: object } } }): ResumableRequestContext
}

declare module 'fastify' {
  interface FastifyInstance {
    resumableUploads: ResumableUploads
  }
}

export interface ResumableUploadsOptions {
  storage: MinioStorageConfig
  /** Where the gateways share their upload locks (the queue's Redis), and under which key prefix. */
  redis: RedisTarget
  prefix: string
  maxBytes: number
  /** Origins allowed to call from a browser (CORS_ORIGINS), or none. */
  corsOrigins: string[]
  /** Everything TUS leaves to the application: naming, URLs, the check and commit at the end. */
  hooks: Pick<ServerOptions, 'namingFunction' | 'generateUrl' | 'getFileIdFromRequest' | 'onUploadFinish' | 'onResponseError'>
}

export const RESUMABLE_UPLOADS_PATH = '/api/uploads/resumable'

/**
 * TUS 1.0 (resumable uploads) with @tus/server, keeping its state in the bucket (@tus/s3-store:
 * the file as a multipart upload, `<id>.info` with the upload's length and metadata, `<id>.part`
 * for a tail shorter than a part), so any gateway instance can continue an upload another began.
 * Routes authenticate and check ownership, then relay the raw request here.
 */
export default fp<ResumableUploadsOptions>(
  async (app, options) => {
    const contexts = new WeakMap<object, ResumableRequestContext>()
    const datastore = new S3Store({
      // expiry is ours (pending_uploads.expires_at and the sweeper), not object tags
      useTags: false,
      expirationPeriodInMilliseconds: 0,
      s3ClientConfig: {
        bucket: options.storage.bucket,
        region: options.storage.region ?? 'us-east-1',
        endpoint: options.storage.endPoint,
        forcePathStyle: true,
        // the SDK's default CRC checksums use aws-chunked bodies with trailers, which radosgw and
        // older MinIO refuse; S3's own Content-MD5/SigV4 checks are what every store shares
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        credentials: { accessKeyId: options.storage.accessKey, secretAccessKey: options.storage.secretKey },
      },
    })
    const allowed = new Set(options.corsOrigins)
    const locker = await createRedisUploadLocker({ redis: options.redis, prefix: options.prefix })
    app.addHook('onClose', () => locker.close())
    const server = new Server({
      locker,
      path: RESUMABLE_UPLOADS_PATH,
      datastore,
      maxSize: options.maxBytes,
      // never take the address from Forwarded / X-Forwarded-* headers: URLs come from configuration
      respectForwardedHeaders: false,
      allowedOrigins: (origin) => allowed.has(origin),
      allowedHeaders: ['authorization'],
      ...options.hooks,
    })
    const resumableUploads: ResumableUploads = {
      path: RESUMABLE_UPLOADS_PATH,
      async relay(request, reply, context) {
        contexts.set(request.raw, { request, ...context })
        // the TUS server writes the response itself
        reply.hijack()
        await server.handle(request.raw, reply.raw)
      },
      contextOf(tusRequest) {
        const raw = tusRequest.runtime?.node?.req
        const context = raw && contexts.get(raw)
        if (!context) throw new Error('a TUS request arrived without going through a route')
        return context
      },
    }
    app.decorate('resumableUploads', resumableUploads)
  },
  { name: 'resumable-uploads', dependencies: ['storage'] },
)

