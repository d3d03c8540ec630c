import fp from 'fastify-plugin'
import { createMinioStorage, type MinioStorageConfig, type ObjectStorage } from '@imageapi/storage'

declare module 'fastify' {
  interface FastifyInstance {
    storage: ObjectStorage
  }
}

export default fp<{ config?: MinioStorageConfig; storage?: ObjectStorage }>(
  async (app, options) => {
    const storage = options.storage ?? createMinioStorage(options.config!)
    app.decorate('storage', storage)
  },
  { name: 'storage' },
)
