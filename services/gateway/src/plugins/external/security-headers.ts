import fp from 'fastify-plugin'
import helmet from 'helmet'
import cors from '@fastify/cors'

/**
 * Helmet's security headers on every response. The helmet middleware is built once: @fastify/helmet
 * builds it anew for every request (re-parsing the CSP directives), which showed as ~10% of the
 * gateway's time on hot view links. Swagger UI sets its own CSP (staticCSP) on its pages.
 * CORS is off unless CORS_ORIGINS lists the origins allowed to call the API from a browser (view
 * links need no CORS: images load cross-origin anyway).
 */
export default fp<{ corsOrigins?: string | undefined }>(
  async (app, options) => {
    const setSecurityHeaders = helmet({
      contentSecurityPolicy: { directives: { 'img-src': ["'self'", 'data:'] } },
      crossOriginResourcePolicy: { policy: 'cross-origin' },
    })
    app.addHook('onRequest', (request, reply, done) => {
      setSecurityHeaders(request.raw, reply.raw, (error) => done(error as Error | undefined))
    })
    if (options.corsOrigins) {
      await app.register(cors, { origin: options.corsOrigins.split(',').map((origin) => origin.trim()), credentials: false, exposedHeaders: ['x-request-id', 'location', 'retry-after'] })
    }
  },
  { name: 'security-headers' },
)
