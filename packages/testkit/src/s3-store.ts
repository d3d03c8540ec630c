import { Client } from 'minio'
import { startRadosgw, type Radosgw } from '@imageapi/radosgw'
import type { Teardown } from './environment.js'

/** Where the tests' S3 store answers, and the keys it accepts. */
export interface S3Store {
  endPoint: string
  accessKey: string
  secretKey: string
  region: string
}

/**
 * The variable through which the test runner (scripts/test.mjs) hands every test process the one
 * radosgw it started for the run: JSON {endPoint, accessKey, secretKey, region}.
 */
export const TEST_S3_VARIABLE = 'IMAGEAPI_TEST_S3'

let ownStore: Promise<Radosgw> | undefined

/**
 * The real S3 store the tests run on: the run's shared radosgw, or, for a test file run on its own
 * (`pnpm exec tap test/x.test.ts`), a cluster of this process's own, stopped when it exits.
 */
export async function testS3Store(): Promise<S3Store> {
  const shared = process.env[TEST_S3_VARIABLE]
  if (shared) return JSON.parse(shared) as S3Store
  ownStore ??= startRadosgw().then((cluster) => {
    process.once('exit', () => cluster.stopSync())
    return cluster
  })
  const { endPoint, accessKey, secretKey, region } = await ownStore
  return { endPoint, accessKey, secretKey, region }
}

/** An S3 client for setup and checks the services' adapter does not offer (buckets, incomplete uploads). */
export function s3AdminClient(store: S3Store): Client {
  const url = new URL(store.endPoint)
  return new Client({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL: url.protocol === 'https:',
    accessKey: store.accessKey,
    secretKey: store.secretKey,
    region: store.region,
    pathStyle: true,
  })
}

/**
 * Creates `bucket` on the store, and in teardown empties it (objects and incomplete multipart
 * uploads) and removes it, so a test run does not fill the store's RAM.
 */
export async function createTestBucket(t: Teardown, store: S3Store, bucket: string): Promise<void> {
  const client = s3AdminClient(store)
  await client.makeBucket(bucket, store.region)
  t.teardown(() => removeBucket(client, bucket))
}

/**
 * Best effort: a service process the test has not stopped yet may still write into the bucket, and
 * what is left costs only RAM until the run's store stops.
 */
async function removeBucket(client: Client, bucket: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await emptyAndRemoveBucket(client, bucket)
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}

async function emptyAndRemoveBucket(client: Client, bucket: string): Promise<void> {
  const keys: string[] = []
  for await (const item of client.listObjectsV2(bucket, '', true)) if (item.name) keys.push(item.name)
  for (let i = 0; i < keys.length; i += 1000) await client.removeObjects(bucket, keys.slice(i, i + 1000))
  for await (const upload of client.listIncompleteUploads(bucket, '', true)) await client.removeIncompleteUpload(bucket, upload.key)
  await client.removeBucket(bucket)
}
