import { availableParallelism } from 'node:os'
import { loadConfig, requireInProduction, serviceEnvSchema, Type, type Static } from '@imageapi/config'
import { databaseEnvSchema } from '@imageapi/db'
import { queueEnvSchema } from '@imageapi/queue'
import { storageEnvSchema } from '@imageapi/storage'

export const workerEnvSchema = Type.Object({
  ...serviceEnvSchema,
  ...databaseEnvSchema,
  ...queueEnvSchema,
  ...storageEnvSchema,
  HOST: Type.String({ default: '127.0.0.1' }),
  /** Port of the worker's small HTTP server (/healthz, /readyz, /metrics); when taken, a free one is used and logged. */
  WORKER_HTTP_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8002 }),
  /**
   * Images in flight per process. sharp runs one thread per image here, so cores + 1: while one job
   * waits on storage or the database, another keeps the cores busy (BENCHMARKS.md, benchmark 1).
   */
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: availableParallelism() + 1 }),
  /** Largest original the worker will decode; keep it equal to the gateway's UPLOAD_MAX_PIXELS. */
  UPLOAD_MAX_PIXELS: Type.Integer({ minimum: 1, default: 50_000_000 }),
  /** Largest thumbnail, in pixels, a tier height may produce from an extreme aspect ratio. */
  THUMBNAIL_MAX_PIXELS: Type.Integer({ minimum: 1, default: 50_000_000 }),
  /** Thumbnails pending longer than this are queued again: Redis may have lost their job. */
  RECONCILE_AFTER_SECONDS: Type.Integer({ minimum: 1, default: 120 }),
  RECONCILE_INTERVAL_SECONDS: Type.Integer({ minimum: 1, default: 30 }),
  /**
   * How long a job's lock lives without renewal (the worker renews it at half this while it works).
   * A killed worker's job is taken up again once its lock has lapsed and a stalled check has run.
   */
  WORKER_LOCK_SECONDS: Type.Integer({ minimum: 1, default: 30 }),
  /** How often each worker looks for jobs whose lock lapsed (their worker died) and queues them again. */
  WORKER_STALLED_INTERVAL_SECONDS: Type.Integer({ minimum: 1, default: 30 }),
})

export type WorkerConfig = Static<typeof workerEnvSchema>

export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const config = loadConfig(workerEnvSchema, env)
  requireInProduction(env, ['S3_ENDPOINT'])
  return config
}
