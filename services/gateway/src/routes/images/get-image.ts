import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ApiError } from '../../plugins/app/errors.js'
import { toImageResource } from '../../services/image-resource.js'
import { errorResponses, ImageIdParams, ImageResource } from '../schemas.js'
import { UUID } from '../../schemas/ids.js'
import { DEFAULT_MAX_WAITERS } from '../../plugins/app/image-readiness.js'

/** Someone else's image and no image at all look the same from outside. */
export function imageNotFound(): ApiError {
  return new ApiError(404, 'image not found')
}

export function parseImageId(id: string): string {
  if (!UUID.test(id)) throw imageNotFound()
  return id.toLowerCase()
}

/** How long `?wait=ready` waits when no `timeout` is given, and the most it may be given. */
export const DEFAULT_WAIT_SECONDS = 20
export const MAX_WAIT_SECONDS = 30

const GetImageQuery = Type.Object({
  wait: Type.Optional(
    Type.Literal('ready', {
      description:
        'Long-poll: answer once every thumbnail owed is `ready` or `failed`, or when `timeout` runs out, with the image as it is then (thumbnails still owed say `pending`). Without it the image is answered at once.',
    }),
  ),
  timeout: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_WAIT_SECONDS,
      description: `With \`wait=ready\`: the most seconds to wait, from 1 to ${MAX_WAIT_SECONDS}; ${DEFAULT_WAIT_SECONDS} if not given. Ignored without \`wait\`.`,
    }),
  ),
})

const getImage: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/images/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['images'],
        summary: 'One of your images, with its links',
        description: [
          'The image and its thumbnails, each `pending`, `ready` (with its links) or `failed`.',
          '',
          `**Waiting without polling:** with \`?wait=ready\` (and optionally \`&timeout=S\`, S from 1 to ${MAX_WAIT_SECONDS}, default ${DEFAULT_WAIT_SECONDS}) the answer comes as soon as no thumbnail is \`pending\` any more, or after S seconds with the image as it is then. The answer is the same JSON as without \`wait\`; look at the statuses to tell which happened. An image with nothing pending answers at once. The wait is woken by the thumbnail queue's events (shared by every gateway instance), not by polling, and holds no database connection. Each gateway process serves at most ${DEFAULT_MAX_WAITERS} waits at a time; beyond that a wait answers at once with the current state.`,
        ].join('\n'),
        security: [{ bearerAuth: [] }],
        params: ImageIdParams,
        querystring: GetImageQuery,
        response: { 200: ImageResource, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request, reply) => {
      const imageId = parseImageId(request.params.id)
      const read = async () => {
        const image = await app.repos.images.findByOwner(imageId, request.account.id)
        return image ? toImageResource(app, request, image, request.account.tier) : undefined
      }
      if (request.query.wait !== 'ready') {
        const resource = await read()
        if (!resource) throw imageNotFound()
        return resource
      }
      // a client that goes away stops its wait (and frees its place among the waiters) at once
      const gone = new AbortController()
      const onClose = () => {
        if (!reply.raw.writableEnded) gone.abort()
      }
      reply.raw.once('close', onClose)
      try {
        const { state } = await app.imageReadiness.waitUntilSettled(imageId, {
          read,
          // a missing image is settled too: it is answered (404) at once
          pending: (resource) => resource !== undefined && resource.thumbnails.some((thumbnail) => thumbnail.status === 'pending'),
          timeoutMs: (request.query.timeout ?? DEFAULT_WAIT_SECONDS) * 1000,
          signal: gone.signal,
        })
        if (!state) throw imageNotFound()
        return state
      } finally {
        reply.raw.off('close', onClose)
      }
    },
  )
}

export default getImage
