export {
  ObjectNotFoundError,
  StorageUnavailableError,
  type ByteRange,
  type ObjectInfo,
  type ObjectStorage,
  type PresignedPutBinding,
  type PresignedResponseHeaders,
} from './object-storage.js'
export { createMinioStorage, type MinioStorage, type MinioStorageConfig } from './minio-storage.js'
export { minioConfigFromEnv, storageEnvSchema, type StorageEnv } from './env.js'
export { readIntoBuffer } from './read-into-buffer.js'
export { ByteBudget } from './byte-budget.js'
export { PartBufferPool } from './part-buffer-pool.js'
export { MIN_PART_BYTES, type StreamTarget, type StreamedPutOptions } from './streamed-put.js'
