import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import { operations } from '@imageapi/http-service'
import { exitOnConfigError } from '@imageapi/config'
import { createDatabase, createRepositories, pingDatabase } from '@imageapi/db'
import { createLogger } from '@imageapi/logger'
import {
  createThumbnailQueue,
  createThumbnailWorker,
  createWebhookQueue,
  createWebhookWorker,
  pingQueue,
  redisTargetFromConfig,
  registerQueueMetrics,
} from '@imageapi/queue'
import { createMinioStorage, minioConfigFromEnv } from '@imageapi/storage'
import { loadWorkerConfig, type WorkerConfig } from './config.js'
import { createThumbnailJobProcessor } from './process-thumbnail-job.js'
import { startReconciler } from './reconciler.js'
import { createWorkerMetrics } from './metrics.js'
import { createWebhookDeliveryProcessor } from './webhooks/deliver-webhook-job.js'
import { startWebhookReconciler } from './webhooks/webhook-reconciler.js'
import { publishImageOutcome, viewLinkUrlFrom } from './webhooks/image-events.js'

let config: WorkerConfig
try {
  config = loadWorkerConfig()
} catch (error) {
  exitOnConfigError(error)
}

const log = createLogger({ name: 'thumbnail-worker', level: config.LOG_LEVEL })
// a webhook attempt holds a connection only to read and to record it, never while the receiver answers
const db = createDatabase(config.DATABASE_URL, { applicationName: 'imageapi-worker', max: config.DATABASE_POOL_MAX ?? config.WORKER_CONCURRENCY + 2 })
const repos = createRepositories(db)
const storage = createMinioStorage(minioConfigFromEnv(config))
// one server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES, which wins)
const redis = redisTargetFromConfig(config)
const queue = createThumbnailQueue({ redis, prefix: config.QUEUE_PREFIX })
queue.on('error', (error) => log.warn({ err: error }, 'queue error'))

// a small HTTP server for operators: the worker has no other port
const http = Fastify({ loggerInstance: log.child({ component: 'http' }) })
await http.register(operations, {
  checks: { postgres: () => pingDatabase(db), redis: () => pingQueue(queue), storage: () => storage.ping() },
  ...(config.METRICS_TOKEN ? { metricsToken: config.METRICS_TOKEN } : {}),
})
registerQueueMetrics(http.metrics, queue)
const metrics = createWorkerMetrics(http.metrics)

// Webhook deliveries: their own queue and worker (own concurrency), so a slow receiver never holds
// a thumbnail slot; see webhooks/deliver-webhook-job.ts for the design.
const webhookQueue = createWebhookQueue({ redis, prefix: config.QUEUE_PREFIX })
webhookQueue.on('error', (error) => log.warn({ err: error }, 'webhook queue error'))
const webhookLog = log.child({ component: 'webhooks' })
const imageEvents = { repos, queue: webhookQueue, log: webhookLog, viewLinkUrl: viewLinkUrlFrom(config) }

const worker = createThumbnailWorker(
  createThumbnailJobProcessor({
    repos,
    storage,
    log,
    metrics,
    limits: { maxInputPixels: config.UPLOAD_MAX_PIXELS, maxOutputPixels: config.THUMBNAIL_MAX_PIXELS },
    // image.ready / image.failed / backfill.finished, once a job leaves nothing owed
    onImageSettled: (imageId) => publishImageOutcome(imageEvents, imageId),
  }),
  {
    redis,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    // a killed worker's job goes back to the queue once its lock lapses
    lockDuration: config.WORKER_LOCK_SECONDS * 1000,
    stalledInterval: config.WORKER_STALLED_INTERVAL_SECONDS * 1000,
    maxStalledCount: 3,
  },
)
worker.on('error', (error) => log.warn({ err: error }, 'worker error'))
worker.on('stalled', (jobId) => log.warn({ jobId }, 'job stalled (its worker stopped renewing the lock); queued again'))

const reconciler = startReconciler(
  { repos, storage, queue, log, pendingAfterMs: config.RECONCILE_AFTER_SECONDS * 1000 },
  config.RECONCILE_INTERVAL_SECONDS * 1000,
)

const webhookWorker = createWebhookWorker(
  createWebhookDeliveryProcessor({
    repos,
    queue: webhookQueue,
    log: webhookLog,
    allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK,
    allowHttp: config.WEBHOOK_ALLOW_HTTP,
    retryScale: config.WEBHOOK_RETRY_SCALE,
    disableAfterFailures: config.WEBHOOK_DISABLE_AFTER_FAILURES,
  }),
  {
    redis,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WEBHOOK_CONCURRENCY,
    // a killed dispatcher's attempt goes back to the queue once its lock lapses
    lockDuration: config.WORKER_LOCK_SECONDS * 1000,
    stalledInterval: config.WORKER_STALLED_INTERVAL_SECONDS * 1000,
    maxStalledCount: 3,
  },
)
webhookWorker.on('error', (error) => webhookLog.warn({ err: error }, 'webhook worker error'))
webhookWorker.on('stalled', (jobId) => webhookLog.warn({ jobId }, 'webhook job stalled (its worker stopped renewing the lock); queued again'))
const webhookReconciler = startWebhookReconciler(
  { repos, queue: webhookQueue, log: webhookLog, overdueAfterMs: config.WEBHOOK_RECONCILE_AFTER_SECONDS * 1000 },
  config.RECONCILE_INTERVAL_SECONDS * 1000,
)

/** How long a shutdown waits for webhook deliveries in flight (one attempt may take 10 s). */
const WEBHOOK_SHUTDOWN_WAIT_MS = 5_000

// On SIGTERM: take no new jobs, let the ones in flight finish, then close every connection.
closeWithGrace({ delay: 60_000 }, async ({ err, signal }) => {
  if (err) log.error({ err }, 'shutting down after an error')
  else log.info({ signal }, 'shutting down')
  // deliveries in flight get a few seconds; one cut short is sent again (at least once, same webhook-id)
  const webhooksClosed = webhookWorker.close()
  const webhooksCut = new Promise<void>((resolve) => setTimeout(resolve, WEBHOOK_SHUTDOWN_WAIT_MS).unref()).then(() => webhookWorker.close(true))
  await Promise.all([worker.close(), Promise.race([webhooksClosed, webhooksCut])])
  await http.close()
  await Promise.all([reconciler.stop(), webhookReconciler.stop()])
  await Promise.all([queue.close(), webhookQueue.close()])
  await db.destroy()
})

await Promise.all([worker.waitUntilReady(), webhookWorker.waitUntilReady()])
const address = await http.listen({ host: config.HOST, port: config.WORKER_HTTP_PORT }).catch((error: NodeJS.ErrnoException) => {
  // several workers on one host ("run as many as you like"): later ones take any free port
  if (error.code !== 'EADDRINUSE') throw error
  log.warn({ port: config.WORKER_HTTP_PORT }, 'WORKER_HTTP_PORT is taken; listening on a free port instead')
  return http.listen({ host: config.HOST, port: 0 })
})
log.info({ concurrency: config.WORKER_CONCURRENCY, webhookConcurrency: config.WEBHOOK_CONCURRENCY, prefix: config.QUEUE_PREFIX, http: address }, 'worker ready')
