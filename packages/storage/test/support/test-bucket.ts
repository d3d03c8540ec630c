import { randomUUID } from 'node:crypto'
import { Client } from 'minio'
import type { Test } from 'tap'
import { testS3Store, type S3Store } from '@imageapi/radosgw'
import { createMinioStorage, type MinioStorage, type MinioStorageConfig } from '../../src/index.js'

export interface TestBucket {
  store: S3Store
  bucket: string
  /** A client of the bucket, without keep-alive (pooled sockets would hold the test process open). */
  storage: MinioStorage
  /** A plain minio client with the store's keys, for what the adapter does not do (buckets, uploads). */
  admin: Client
}

/**
 * A bucket of its own on the run's radosgw for one test file, named `<name>-<random>`, emptied and
 * removed when `t` ends.
 */
export async function createTestBucket(t: Test, name: string, options: Partial<MinioStorageConfig> = {}): Promise<TestBucket> {
  const store = await testS3Store()
  const bucket = `${name}-${randomUUID().slice(0, 8)}`
  const storage = createMinioStorage({ ...store, bucket, keepAlive: false, ...options })
  await storage.ensureBucket()
  const url = new URL(store.endPoint)
  const admin = new Client({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL: false,
    accessKey: store.accessKey,
    secretKey: store.secretKey,
    region: store.region,
    pathStyle: true,
  })
  t.teardown(async () => {
    await removeBucket(admin, bucket)
    storage.close()
  })
  return { store, bucket, storage, admin }
}

/** Removes a bucket with everything in it, incomplete multipart uploads included. */
export async function removeBucket(admin: Client, bucket: string): Promise<void> {
  if (!(await admin.bucketExists(bucket))) return
  const keys: string[] = []
  for await (const item of admin.listObjectsV2(bucket, '', true)) if (item.name !== undefined) keys.push(item.name)
  if (keys.length > 0) await admin.removeObjects(bucket, keys)
  for await (const upload of admin.listIncompleteUploads(bucket, '', true)) await admin.abortMultipartUpload(bucket, upload.key, upload.uploadId)
  await admin.removeBucket(bucket)
}
