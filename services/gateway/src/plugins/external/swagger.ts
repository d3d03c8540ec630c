import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'imageapi',
          version: '0.1.0',
          description:
            'Upload PNG and JPEG images and get signed links to thumbnails at the heights your tier grants, the original where your tier allows it, and expiring links on tiers with that right.',
        },
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        },
        tags: [
          { name: 'auth', description: 'Access and refresh tokens' },
          { name: 'sessions', description: 'Your signed-in sessions (one per sign-in, kept by its rotating refresh token): list them, end one' },
          { name: 'images', description: 'Upload, list and delete images' },
          {
            name: 'uploads',
            description:
              'Uploads whose bytes go straight to storage: direct (a presigned PUT, then complete) and resumable (TUS 1.0). Checked like `POST /api/images` before they become images',
          },
          {
            name: 'webhooks',
            description:
              'Signed webhooks (Standard Webhooks): endpoints you register receive `image.ready`, `image.failed`, `image.deleted` (admins also `backfill.finished`), with retries for about a day',
          },
          { name: 'links', description: 'Signed view links' },
          { name: 'admin', description: 'Tiers, users, backfills and the thumbnail queue; admins only (others get 403)' },
          {
            name: 'compat',
            description:
              'Legacy: the routes of the Django API imageapi replaces, with its status codes and bodies, kept so that its clients work unchanged. Deprecated: new clients should use the images and links routes.',
          },
        ],
      },
    })
    // Swagger UI's assets are served from the package itself: the docs work offline.
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { docExpansion: 'list', deepLinking: true } })
  },
  { name: 'swagger' },
)
