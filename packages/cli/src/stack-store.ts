import { startRadosgw } from '@imageapi/radosgw'
import { createMinioStorage, minioConfigFromEnv, type StorageEnv } from '@imageapi/storage'

/** The S3 store the local stack runs on, as the services are to be told about it. */
export interface StackStore {
  endPoint: string
  accessKey: string
  secretKey: string
  region: string
  bucket: string
  /** Where the embedded store keeps its objects; undefined when S3_ENDPOINT names an existing store. */
  directory?: string
  /** Stops the embedded store (its objects stay in `directory`); nothing for an existing store. */
  stop(): Promise<void>
  /** stop() for a process that is exiting and can no longer wait. */
  stopSync(): void
}

export interface StackStoreOptions {
  /** Where the embedded store lives (`<repo>/.data/radosgw` for `npm start`). */
  directory: string
  /** The embedded store's S3 port when it is first created; a store started again keeps its own. */
  port?: number
  print?: (line: string) => void
}

/**
 * The store for `npm start`. With S3_ENDPOINT set: that store, with the configured keys, bucket and
 * region; the bucket is created when it is missing. Without: a persistent single-node Ceph radosgw
 * in `directory` (a real S3: signatures checked, anonymous requests refused, multipart), started
 * again with its objects and keys when the directory already holds one, with the bucket created.
 */
export async function startStackStore(env: StorageEnv, options: StackStoreOptions): Promise<StackStore> {
  if (env.S3_ENDPOINT !== undefined) {
    const { endPoint, accessKey, secretKey, region, bucket } = minioConfigFromEnv(env)
    const store = { endPoint, accessKey, secretKey, region: region ?? env.S3_REGION, bucket }
    await ensureBucket(store)
    return { ...store, stop: async () => {}, stopSync: () => {} }
  }
  options.print?.(`starting the S3 store (Ceph radosgw, data in ${options.directory})`)
  const cluster = await startRadosgw({
    directory: options.directory,
    persistent: true,
    ...(options.port !== undefined ? { port: options.port } : {}),
    install: true,
  })
  const store = { endPoint: cluster.endPoint, accessKey: cluster.accessKey, secretKey: cluster.secretKey, region: cluster.region, bucket: env.S3_BUCKET }
  try {
    await ensureBucket(store)
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return { ...store, directory: cluster.directory, stop: () => cluster.stop(), stopSync: () => cluster.stopSync() }
}

async function ensureBucket(store: Omit<StackStore, 'stop' | 'stopSync' | 'directory'>): Promise<void> {
  const storage = createMinioStorage({ ...store, keepAlive: false })
  try {
    await storage.ensureBucket()
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: string }
    const reason = typeof code === 'string' && !String(message).includes(code) ? `${code}: ${message}` : String(message)
    throw new Error(`cannot use bucket ${store.bucket} at ${store.endPoint} (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET): ${reason}`, { cause: error })
  } finally {
    storage.close()
  }
}
