import { Type, type Static } from '@imageapi/config'
import type { MinioStorageConfig } from './minio-storage.js'

/**
 * Storage variables, as schema properties a service spreads into its own config:
 * `loadConfig(Type.Object({ ...storageEnvSchema, PORT: ... }))`.
 * The keys have no default: the local stack's own store makes keys of its own and hands them to the
 * services; any other store needs its keys set with its endpoint.
 */
export const storageEnvSchema = {
  /** Unset means "no external storage": the local start command then runs a store of its own. */
  S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+/?$', description: 'e.g. http://127.0.0.1:9000' })),
  /**
   * Where clients reach the store, when not at S3_ENDPOINT (presigned URLs are signed for this
   * address): in docker compose the services use http://minio:9000, the host http://localhost:9000.
   */
  S3_PUBLIC_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+/?$', description: 'e.g. http://localhost:9000' })),
  S3_ACCESS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  S3_SECRET_KEY: Type.Optional(Type.String({ minLength: 1 })),
  // S3 bucket naming rules: 3-63 characters, lowercase letters, digits, dots and hyphens.
  S3_BUCKET: Type.String({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', default: 'imageapi' }),
  S3_REGION: Type.String({ minLength: 1, default: 'us-east-1' }),
}

const storageEnvObject = Type.Object(storageEnvSchema)
export type StorageEnv = Static<typeof storageEnvObject>

/**
 * Turns loaded storage variables into a client config. `endPoint` overrides S3_ENDPOINT, for
 * when the caller started a store of its own; without either there is nothing to connect to.
 */
export function minioConfigFromEnv(env: StorageEnv, endPoint = env.S3_ENDPOINT): MinioStorageConfig {
  if (endPoint === undefined) throw new Error('S3_ENDPOINT is not set and no storage endpoint was given')
  const { S3_ACCESS_KEY: accessKey, S3_SECRET_KEY: secretKey } = env
  if (accessKey === undefined) throw new Error(`S3_ACCESS_KEY must be set: the storage at ${endPoint} needs its keys`)
  if (secretKey === undefined) throw new Error(`S3_SECRET_KEY must be set: the storage at ${endPoint} needs its keys`)
  return {
    endPoint,
    ...(env.S3_PUBLIC_ENDPOINT === undefined ? {} : { publicEndPoint: env.S3_PUBLIC_ENDPOINT.replace(/\/$/, '') }),
    accessKey,
    secretKey,
    bucket: env.S3_BUCKET,
    region: env.S3_REGION,
  }
}
