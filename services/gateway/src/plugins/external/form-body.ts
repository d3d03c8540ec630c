import fp from 'fastify-plugin'
import formbody from '@fastify/formbody'

/**
 * application/x-www-form-urlencoded bodies, parsed like JSON ones: the API we replace (DRF) takes
 * form fields wherever it takes JSON, and its clients send the token request that way.
 */
export default fp(
  async (app) => {
    await app.register(formbody, { bodyLimit: 64 * 1024 })
  },
  { name: 'form-body' },
)
