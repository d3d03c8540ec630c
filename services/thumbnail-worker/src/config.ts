import { availableParallelism } from 'node:os'
import { linkSigningEnvSchema } from '@imageapi/link-tokens'
import { ConfigError, loadConfig, requireInProduction, serviceEnvSchema, Type, type Static } from '@imageapi/config'
import { databaseEnvSchema } from '@imageapi/db'
import { queueEnvSchema } from '@imageapi/queue'
import { storageEnvSchema } from '@imageapi/storage'

export const workerEnvSchema = Type.Object({
  ...serviceEnvSchema,
  ...databaseEnvSchema,
  ...queueEnvSchema,
  ...storageEnvSchema,
  /** The key `image.ready` webhooks sign their view links with, as the gateway does (its LINK_SIGNING_KEYS). */
  ...linkSigningEnvSchema,
  /**
   * The gateway's public address (its PUBLIC_URL): the base of the view links in `image.ready`
   * webhooks. Required when NODE_ENV=production; the development default is the gateway's own.
   */
  PUBLIC_URL: Type.String({ pattern: '^https?://[^?#]+$', default: 'http://127.0.0.1:8000' }),
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
  /**
   * Webhook deliveries in flight per process, on the webhooks queue's own worker: a slow receiver
   * (up to 10 s an attempt) holds one of these slots, never a thumbnail one.
   */
  WEBHOOK_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  /** Development only (refused when NODE_ENV=production): deliver to loopback addresses (127.0.0.0/8, ::1, localhost). */
  WEBHOOK_ALLOW_LOOPBACK: Type.Boolean({ default: false }),
  /** Development only (refused when NODE_ENV=production): deliver to plain http:// URLs. */
  WEBHOOK_ALLOW_HTTP: Type.Boolean({ default: false }),
  /**
   * Tests only (refused below 1 when NODE_ENV=production): every retry delay of the webhook
   * schedule (5 s … 10 h, about a day in all) is multiplied by this, so a test can run the whole
   * schedule in seconds.
   */
  WEBHOOK_RETRY_SCALE: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 1 }),
  /** An endpoint whose deliveries failed (after all their retries) this many times in a row is disabled; it also is after a day of failing. */
  WEBHOOK_DISABLE_AFTER_FAILURES: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),
  /**
   * A pending delivery due longer than this ago is queued again by the webhook reconciler (its job
   * was lost with Redis, or its dispatcher was killed). Runs every RECONCILE_INTERVAL_SECONDS.
   */
  WEBHOOK_RECONCILE_AFTER_SECONDS: Type.Integer({ minimum: 1, default: 30 }),
})

export type WorkerConfig = Static<typeof workerEnvSchema>

export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const config = loadConfig(workerEnvSchema, env)
  requireInProduction(env, ['S3_ENDPOINT', 'LINK_SIGNING_KEYS', 'PUBLIC_URL'])
  refuseWebhookTestSettingsInProduction(config)
  return config
}

/** As webhookSafetyFromEnv (@imageapi/webhooks) and the gateway: these reopen ways to reach internal services, or hammer receivers. */
function refuseWebhookTestSettingsInProduction(config: WorkerConfig): void {
  if (config.NODE_ENV !== 'production') return
  const problems: Array<{ variable: string; message: string }> = (['WEBHOOK_ALLOW_LOOPBACK', 'WEBHOOK_ALLOW_HTTP'] as const)
    .filter((name) => config[name])
    .map((variable) => ({
      variable,
      message: 'must not be set when NODE_ENV=production: it exists for local development and would let webhooks reach internal services',
    }))
  if (config.WEBHOOK_RETRY_SCALE < 1) {
    problems.push({ variable: 'WEBHOOK_RETRY_SCALE', message: 'must be 1 when NODE_ENV=production: a shorter schedule exists for tests and would give receivers less than a day to recover' })
  }
  if (problems.length > 0) throw new ConfigError(problems)
}
