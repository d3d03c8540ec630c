import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@fastify/type-provider-typebox'
import { grantsOriginal, grantsThumbnail } from '@imageapi/media'
import { ApiError } from '../../plugins/app/errors.js'
import { imageNotFound, parseImageId } from '../images/get-image.js'
import { errorResponses, ExpiringLinkResource, ImageIdParams, ServedFormatName } from '../schemas.js'
import { EXPIRING_LINK_SECONDS, parseVariant, toExpiringLinkResource } from '../../services/expiring-links.js'

/** LINK_MAX_LIVE_PER_IMAGE's default, for a registration that gives none. */
export const DEFAULT_MAX_LIVE_PER_IMAGE = 100

const createExpiringLink: FastifyPluginAsyncTypebox<{ maxLivePerImage?: number; perUser?: number; perIp?: number }> = async (app, options) => {
  const maxLive = options.maxLivePerImage ?? DEFAULT_MAX_LIVE_PER_IMAGE
  app.post(
    '/api/images/:id/links',
    {
      preHandler: [
        app.authenticate,
        app.rateLimited(
          { name: 'link-user', limit: options.perUser ?? 0, key: (request) => request.account?.id },
          { name: 'link-ip', limit: options.perIp ?? 0, key: (request) => request.ip },
        ),
      ],
      // null and true would be coerced to 0 and 1 and told "must be >= 300"
      config: { fieldMessages: { seconds: `seconds must be an integer (a whole number of seconds) from ${EXPIRING_LINK_SECONDS.min} to ${EXPIRING_LINK_SECONDS.max}` } },
      schema: {
        tags: ['links'],
        summary: 'Create a link to one variant of your image that expires',
        description: `For tiers with expiring links. \`seconds\`: ${EXPIRING_LINK_SECONDS.min}–${EXPIRING_LINK_SECONDS.max}; \`variant\`: \`"original"\` or a thumbnail height your tier grants (or that was asked for at upload through the legacy API) and that is ready. The link can be listed and revoked until it expires. An image has at most ${maxLive} live links (LINK_MAX_LIVE_PER_IMAGE): one more answers 409 until one is revoked (\`DELETE /api/links/{link_id}\`) or expires.`,
        security: [{ bearerAuth: [] }],
        params: ImageIdParams,
        body: Type.Object({
          seconds: Type.Integer({ minimum: EXPIRING_LINK_SECONDS.min, maximum: EXPIRING_LINK_SECONDS.max, description: 'Lifetime in seconds' }),
          variant: Type.Union([Type.Literal('original'), Type.Integer({ minimum: 1 }), Type.String()], {
            description: '"original" or a thumbnail height',
          }),
          format: Type.Optional(
            Type.Union([ServedFormatName, Type.Null()], {
              description:
                'For a thumbnail: the one format the link answers in (the source format, or `webp`/`avif` once the thumbnail is ready in it). Without it the link answers by `Accept`. Originals are always the file as uploaded.',
            }),
          ),
        }),
        response: { 201: ExpiringLinkResource, ...errorResponses(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      const account = request.account
      const image = await app.repos.images.findByOwner(parseImageId(request.params.id), account.id)
      if (!image) throw imageNotFound()
      if (!account.tier.expiring_links) throw new ApiError(403, 'your tier does not include expiring links')
      const variant = parseVariant(request.body.variant)
      if (variant === 'original') {
        if (!grantsOriginal(account.tier)) throw new ApiError(400, 'your tier does not include the original', 'variant')
      } else {
        const thumbnail = image.thumbnails.find((t) => t.height === variant)
        if (!thumbnail || !grantsThumbnail(account.tier, thumbnail)) {
          throw new ApiError(400, `your tier has no ${variant} px thumbnail; it grants ${account.tier.thumbnail_heights.join(', ')}`, 'variant')
        }
        if (thumbnail.status !== 'ready') throw new ApiError(400, `the ${variant} px thumbnail is ${thumbnail.status}, not ready`, 'variant')
      }
      const format = request.body.format ?? undefined
      if (format !== undefined) {
        if (variant === 'original') throw new ApiError(400, 'an original is always served as uploaded: format is for thumbnails', 'format')
        const readyIn = [image.format, ...(image.thumbnails.find((t) => t.height === variant)?.renditions ?? [])]
        if (!readyIn.includes(format)) throw new ApiError(400, `the ${variant} px thumbnail is not ready in ${format}; it is ready in ${readyIn.join(', ')}`, 'format')
      }
      const expiresAt = new Date(Math.floor(app.clock() / 1000) * 1000 + request.body.seconds * 1000)
      const result = await app.repos.links.createWithinCap(
        { imageId: image.id, variant: String(variant), expiresAt, format },
        { maxLive, now: new Date(app.clock()) },
      )
      if (!result.created) {
        throw new ApiError(
          409,
          `this image already has ${result.live} live expiring links, the most one image may have (${maxLive}); revoke one (DELETE /api/links/{link_id}; GET /api/images/${image.id}/links lists them) or wait for one to expire`,
        )
      }
      return reply.code(201).send(toExpiringLinkResource(app, request, result.created))
    },
  )
}

export default createExpiringLink
