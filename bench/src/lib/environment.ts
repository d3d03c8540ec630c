import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { createRepositories, type Repositories } from '@imageapi/db'
import { createScratchDatabase, type ScratchDatabase } from '@imageapi/db/testing'
import { createMinioStorage, type MinioStorage } from '@imageapi/storage'
import { createTestBucket, type RunningService, type ServiceName, type Teardown } from '@imageapi/testkit'
import { launchService } from './services.js'
import { benchStore, type StoreKind } from './store.js'

export const BENCH_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')
export const RESULTS_DIR = join(BENCH_ROOT, 'results')

/** Runs registered cleanups in reverse order; the testkit's `t.teardown` interface. */
export class Cleanup implements Teardown {
  private readonly fns: Array<() => unknown> = []
  teardown(fn: () => unknown): void {
    this.fns.push(fn)
  }
  async run(): Promise<void> {
    while (this.fns.length) {
      const fn = this.fns.pop()!
      try {
        await fn()
      } catch (error) {
        process.stderr.write(`cleanup failed: ${String(error)}\n`)
      }
    }
  }
}

export interface BenchEnvironment {
  cleanup: Cleanup
  database: ScratchDatabase
  repos: Repositories
  storage: MinioStorage
  /** The run's store (shared by every benchmark of the run) and this benchmark's bucket on it. */
  s3: { kind: StoreKind; endPoint: string; accessKey: string; secretKey: string; region: string; bucket: string; pids(): number[]; describe(): string; collectGarbage(): Promise<void> }
  redisUrl: string
  queuePrefix: string
  /** What a service process needs to join this environment. */
  env: Record<string, string>
  start(name: ServiceName, extraEnv?: Record<string, string>, label?: string, options?: { memprobe?: boolean }): Promise<RunningService>
}

/**
 * Like the testkit's createTestEnvironment (own database, bucket and queue prefix, removed at the
 * end) except that the S3 store is the bench run's own (store.ts: radosgw, or s3rver with
 * BENCH_STORE=s3rver), started once per run in its own processes.
 */
export async function createBenchEnvironment(benchName: string, options: { redisUrl?: string } = {}): Promise<BenchEnvironment> {
  const cleanup = new Cleanup()
  const suffix = randomBytes(5).toString('hex')
  try {
    const database = await createScratchDatabase()
    cleanup.teardown(() => database.drop())
    const bucket = `bench-${suffix}`
    const store = await benchStore()
    // after the bucket is emptied and removed (teardowns run in reverse), free the space at once
    cleanup.teardown(() => store.collectGarbage())
    await createTestBucket(cleanup, store, bucket)
    const storage = createMinioStorage({ endPoint: store.endPoint, accessKey: store.accessKey, secretKey: store.secretKey, region: store.region, bucket })
    cleanup.teardown(() => storage.close())
    // options.redisUrl: a Redis of the benchmark's own (capacity, worker-scaling count its commands)
    const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
    const queuePrefix = `bench-${suffix}`
    cleanup.teardown(() => removeRedisKeys(redisUrl, queuePrefix))
    const env: Record<string, string> = {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: queuePrefix,
      S3_ENDPOINT: store.endPoint,
      S3_ACCESS_KEY: store.accessKey,
      S3_SECRET_KEY: store.secretKey,
      S3_REGION: store.region,
      S3_BUCKET: bucket,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      // the reconciler must not re-queue work while a benchmark is draining the queue
      RECONCILE_AFTER_SECONDS: '3600',
      RECONCILE_INTERVAL_SECONDS: '3600',
      // the gateway's per-user and per-IP limits stay on (their Redis round trip is part of the
      // cost) but high enough that a benchmark's burst from one user and one IP is never refused
      UPLOAD_RATE_LIMIT_PER_USER: '1000000',
      UPLOAD_RATE_LIMIT_PER_IP: '1000000',
      LOGIN_RATE_LIMIT_PER_IP: '1000000',
      LOGIN_RATE_LIMIT_PER_EMAIL: '1000000',
    }
    let started = 0
    return {
      cleanup,
      database,
      repos: createRepositories(database.db),
      storage,
      s3: { kind: store.kind, endPoint: store.endPoint, accessKey: store.accessKey, secretKey: store.secretKey, region: store.region, bucket, pids: () => store.pids(), describe: () => store.describe(), collectGarbage: () => store.collectGarbage() },
      redisUrl,
      queuePrefix,
      env,
      async start(name, extraEnv = {}, label, options = {}) {
        // --cpu-prof is not allowed in NODE_OPTIONS: it goes on the command line
        const nodeArgs: string[] = []
        if (process.env.BENCH_PROFILE) {
          const dir = join(RESULTS_DIR, 'profiles', benchName, `${label ?? name}-${++started}`)
          mkdirSync(dir, { recursive: true })
          nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`)
        }
        if (options.memprobe) nodeArgs.push('--import', join(BENCH_ROOT, 'src/lib/memprobe.mjs'))
        const service = await launchService(cleanup, name, { ...env, ...extraEnv, ...serviceEnvOverrides() }, { readyTimeoutMs: 90_000, nodeArgs })
        // on the way out, say if the service logged errors: a benchmark of a failing path measures nothing
        cleanup.teardown(() => reportServiceErrors(label ?? name, service))
        return service
      },
    }
  } catch (error) {
    await cleanup.run()
    throw error
  }
}

/**
 * BENCH_SERVICE_ENV="NAME=value NAME2=value": extra environment for every service process, for
 * experiments (e.g. MALLOC_ARENA_MAX=2) without touching the services.
 */
function serviceEnvOverrides(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of (process.env.BENCH_SERVICE_ENV ?? '').split(/\s+/).filter(Boolean)) {
    const at = pair.indexOf('=')
    if (at > 0) out[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return out
}

function reportServiceErrors(label: string, service: RunningService): void {
  const errors = service.logs.filter((entry) => Number(entry.level) >= 50)
  const crashes = service.output.filter((line) => !line.startsWith('{') && /error/i.test(line))
  if (errors.length === 0 && crashes.length === 0) return
  process.stderr.write(`  ${label} logged ${errors.length} error(s)${crashes.length ? ` and ${crashes.length} non-JSON error line(s)` : ''}, e.g.:\n`)
  for (const entry of errors.slice(0, 3)) {
    const err = entry.err as { message?: string; stack?: string } | undefined
    process.stderr.write(`    ${String(entry.msg)}: ${err?.stack?.split('\n').slice(0, 4).join(' | ') ?? err?.message ?? ''}\n`)
  }
  for (const line of crashes.slice(0, 3)) process.stderr.write(`    ${line.slice(0, 300)}\n`)
}

/**
 * Starts one of the bench's own scripts as a process and waits for its first JSON line with a
 * "listening at" message; stopped (SIGTERM, then SIGKILL) in cleanup.
 */
export async function startHelper(cleanup: Teardown, script: string, args: string[], env: Record<string, string> = {}): Promise<{ pid: number; url: string; line: Record<string, unknown> }> {
  const child: ChildProcess = spawn(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', join(BENCH_ROOT, script), ...args], {
    cwd: BENCH_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  cleanup.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  })
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in 60 s`)), 60_000)
    createInterface({ input: child.stdout! }).on('line', (text) => {
      try {
        const parsed = JSON.parse(text) as Record<string, unknown>
        if (/listening at/.test(String(parsed.msg))) {
          clearTimeout(timer)
          resolve(parsed)
        }
      } catch {
        // not ours
      }
    })
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready`)))
  })
  const url = /listening at (\S+)/.exec(String(line.msg))![1]!
  return { pid: child.pid!, url, line }
}

async function removeRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      if (keys.length) await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}
