import fp from 'fastify-plugin'
import multipart from '@fastify/multipart'

/** What one multipart body may hold; the errors plugin names these limits when one is passed. */
export const MULTIPART_LIMITS = { files: 1, fields: 20, fieldSize: 64 * 1024, parts: 30, headerPairs: 100 } as const

export default fp<{ maxBytes: number }>(
  async (app, options) => {
    await app.register(multipart, {
      limits: {
        // one byte over the limit reaches the image probe, which rejects it with the clear message
        fileSize: options.maxBytes + 1,
        ...MULTIPART_LIMITS,
      },
    })
  },
  { name: 'multipart' },
)
