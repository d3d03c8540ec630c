import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'
import cors from '@fastify/cors'

/**
 * Helmet's security headers on every response. CORS is off unless CORS_ORIGINS lists the origins
 * allowed to call the API from a browser (view links need no CORS: images load cross-origin anyway).
 */
export default fp<{ corsOrigins?: string | undefined }>(
  async (app, options) => {
    await app.register(helmet, {
      // Swagger UI's page carries inline scripts; its plugin adds matching CSP hashes (staticCSP)
      contentSecurityPolicy: { directives: { 'img-src': ["'self'", 'data:'] } },
      crossOriginResourcePolicy: { policy: 'cross-origin' },
    })
    if (options.corsOrigins) {
      await app.register(cors, { origin: options.corsOrigins.split(',').map((origin) => origin.trim()), credentials: false, exposedHeaders: ['x-request-id', 'location', 'retry-after'] })
    }
  },
  { name: 'security-headers' },
)
