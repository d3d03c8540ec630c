import { Client } from 'minio'
import type { S3Store } from '@imageapi/radosgw'
import type { Teardown } from './environment.js'

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
