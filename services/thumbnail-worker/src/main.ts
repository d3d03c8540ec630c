import { Worker } from 'bullmq'
import closeWithGrace from 'close-with-grace'
import { exitOnConfigError } from '@imageapi/config'
import { createDatabase, createRepositories } from '@imageapi/db'
import { createLogger } from '@imageapi/logger'
import { createThumbnailQueue, redisConnection, THUMBNAIL_QUEUE, type ThumbnailJobData } from '@imageapi/queue'
import { createMinioStorage, minioConfigFromEnv } from '@imageapi/storage'
import { loadWorkerConfig, type WorkerConfig } from './config.js'
import { createThumbnailJobProcessor } from './process-thumbnail-job.js'
import { startReconciler } from './reconciler.js'

let config: WorkerConfig
try {
  config = loadWorkerConfig()
} catch (error) {
  exitOnConfigError(error)
}

const log = createLogger({ name: 'thumbnail-worker', level: config.LOG_LEVEL })
const db = createDatabase(config.DATABASE_URL, { applicationName: 'imageapi-worker', max: config.WORKER_CONCURRENCY + 2 })
const repos = createRepositories(db)
const storage = createMinioStorage(minioConfigFromEnv(config))
const queue = createThumbnailQueue({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX })
queue.on('error', (error) => log.warn({ err: error }, 'queue error'))

const worker = new Worker<ThumbnailJobData>(
  THUMBNAIL_QUEUE,
  createThumbnailJobProcessor({
    repos,
    storage,
    log,
    limits: { maxInputPixels: config.UPLOAD_MAX_PIXELS, maxOutputPixels: config.THUMBNAIL_MAX_PIXELS },
  }),
  {
    connection: redisConnection(config.REDIS_URL, { worker: true }),
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

// On SIGTERM: take no new jobs, let the ones in flight finish, then close every connection.
closeWithGrace({ delay: 60_000 }, async ({ err, signal }) => {
  if (err) log.error({ err }, 'shutting down after an error')
  else log.info({ signal }, 'shutting down')
  await worker.close()
  await reconciler.stop()
  await queue.close()
  await db.destroy()
})

await worker.waitUntilReady()
log.info({ concurrency: config.WORKER_CONCURRENCY, prefix: config.QUEUE_PREFIX }, 'worker ready')
