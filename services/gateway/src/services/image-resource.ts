import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ImageWithThumbnails, Tier } from '@imageapi/db'
import type { ImageResource } from '../routes/schemas.js'

/**
 * The API's view of an image: only the variants the owner's tier grants now (a height dropped
 * from the tier disappears) and those asked for explicitly, each with a signed link once it is ready.
 */
export function toImageResource(
  app: FastifyInstance,
  request: FastifyRequest,
  image: ImageWithThumbnails,
  tier: Pick<Tier, 'thumbnail_heights' | 'original_link'>,
): ImageResource {
  const granted = new Set(tier.thumbnail_heights)
  return {
    id: image.id,
    title: image.title,
    width: image.width,
    height: image.height,
    format: image.format,
    bytes: image.bytes,
    created_at: image.created_at.toISOString(),
    thumbnails: image.thumbnails
      .filter((thumbnail) => granted.has(thumbnail.height) || thumbnail.requested)
      .map((thumbnail) => ({
        height: thumbnail.height,
        width: thumbnail.width,
        status: thumbnail.status,
        url: thumbnail.status === 'ready' ? app.viewLinks.urlFor(request, { imageId: image.id, variant: thumbnail.height }) : null,
        ...(thumbnail.status === 'failed' && thumbnail.error ? { error: thumbnail.error } : {}),
      })),
    original: tier.original_link ? { url: app.viewLinks.urlFor(request, { imageId: image.id, variant: 'original' }) } : null,
  }
}
