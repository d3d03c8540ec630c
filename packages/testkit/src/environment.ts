import { randomBytes } from 'node:crypto'
import { createRepositories, type Repositories } from '@imageapi/db'
import { createScratchDatabase, type ScratchDatabase } from '@imageapi/db/testing'
import { createMinioStorage, type MinioStorage } from '@imageapi/storage'
import { testS3Store } from '@imageapi/radosgw'
import { createTestBucket } from './s3-store.js'

/** What tap's `t` offers that the kit needs; keeps the kit free of a tap dependency. */
export interface Teardown {
  teardown(fn: () => unknown): void
}

export interface TestEnvironment {
  database: ScratchDatabase
  repos: Repositories
  storage: MinioStorage
  s3: { endPoint: string; accessKey: string; secretKey: string; region: string; bucket: string }
  redisUrl: string
  queuePrefix: string
  /** The environment variables a service process needs to join this test's Postgres, Redis and S3. */
  env: Record<string, string>
}

/**
 * Real Postgres, Redis and S3 (radosgw) for one test file, isolated from every other file: its own
 * database, its own BullMQ prefix and its own bucket. Everything is removed in teardown.
 */
export async function createTestEnvironment(t: Teardown): Promise<TestEnvironment> {
  const suffix = randomBytes(5).toString('hex')
  const database = await createScratchDatabase()
  t.teardown(() => database.drop())
  const bucket = `test-${suffix}`
  const store = await testS3Store()
  await createTestBucket(t, store, bucket)
  const s3 = { ...store, bucket }
  // keep-alive sockets would hold the test process open after its last test
  const storage = createMinioStorage({ ...s3, keepAlive: false })
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const queuePrefix = `test-${suffix}`
  t.teardown(() => removeRedisKeys(redisUrl, queuePrefix))
  return {
    database,
    repos: createRepositories(database.db),
    storage,
    s3,
    redisUrl,
    queuePrefix,
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: queuePrefix,
      S3_ENDPOINT: s3.endPoint,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_REGION: s3.region,
      S3_BUCKET: bucket,
    },
  }
}

async function removeRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis')
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    // the bare prefix on a standalone server; its hash-tagged form is what a cluster's queue keys use
    for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
        if (keys.length) await redis.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
    }
  } finally {
    redis.disconnect()
  }
}

/** Every object key in the test bucket; for asserting that nothing was left behind. */
export async function listObjectKeys(storage: MinioStorage): Promise<string[]> {
  return storage.listKeys()
}
