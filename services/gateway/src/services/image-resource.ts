import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Tier } from '@imageapi/db'
import type { LinkClaims } from '@imageapi/link-tokens'
import { toImageJson, type ImageResource, type ShownImage } from '@imageapi/image-json'

/** The API's view of images (toImageJson), on this deployment's public address, worked out once per page. */
export function toImageResources(
  app: FastifyInstance,
  request: FastifyRequest,
  images: readonly ShownImage[],
  tier: Pick<Tier, 'thumbnail_heights' | 'original_link'>,
): ImageResource[] {
  if (images.length === 0) return []
  const baseUrl = app.viewLinks.baseUrl(request)
  const { urlAt } = app.viewLinks
  const urlOf = (claims: LinkClaims) => urlAt(baseUrl, claims)
  return images.map((image) => toImageJson(image, tier, urlOf))
}

/** The API's view of one image; see toImageResources. */
export function toImageResource(
  app: FastifyInstance,
  request: FastifyRequest,
  image: ShownImage,
  tier: Pick<Tier, 'thumbnail_heights' | 'original_link'>,
): ImageResource {
  return toImageResources(app, request, [image], tier)[0]!
}
