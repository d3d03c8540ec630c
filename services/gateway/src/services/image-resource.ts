import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ImagePage, ImageWithThumbnails, Tier } from '@imageapi/db'
import { grantsOriginal, grantsThumbnail, renderedSize, RENDITION_PREFERENCE } from '@imageapi/media'
import type { ImageResource } from '../routes/schemas.js'

/** What the resource is built from: a listed image (only the columns the API returns) or a whole row. */
type ShownImage = ImagePage['images'][number] | ImageWithThumbnails

/**
 * The API's view of images: only the variants the owner's tier grants now (a height dropped from
 * the tier disappears) and those asked for explicitly, each with a signed link once it is ready.
 * What every image of a page shares (the public address) is worked out once.
 */
export function toImageResources(
  app: FastifyInstance,
  request: FastifyRequest,
  images: readonly ShownImage[],
  tier: Pick<Tier, 'thumbnail_heights' | 'original_link'>,
): ImageResource[] {
  if (images.length === 0) return []
  const baseUrl = app.viewLinks.baseUrl(request)
  const { urlAt } = app.viewLinks
  return images.map((image) => {
    const thumbnails: ImageResource['thumbnails'] = []
    for (const thumbnail of image.thumbnails) {
      if (!grantsThumbnail(tier, thumbnail)) continue
      const ready = thumbnail.status === 'ready'
      const shown: ImageResource['thumbnails'][number] = {
        height: thumbnail.height,
        width: thumbnail.width,
        rendered_height: ready ? renderedSize(image, thumbnail.height).height : null,
        status: thumbnail.status,
        url: ready ? urlAt(baseUrl, { imageId: image.id, variant: thumbnail.height }) : null,
      }
      if (ready) {
        const formats: NonNullable<ImageResource['thumbnails'][number]['formats']> = {}
        for (const format of [...RENDITION_PREFERENCE.filter((f) => thumbnail.renditions?.includes(f)), image.format]) {
          formats[format] = urlAt(baseUrl, { imageId: image.id, variant: thumbnail.height, format })
        }
        shown.formats = formats
      }
      if (thumbnail.status === 'failed' && thumbnail.error) shown.error = thumbnail.error
      thumbnails.push(shown)
    }
    return {
      id: image.id,
      title: image.title,
      width: image.width,
      height: image.height,
      format: image.format,
      bytes: image.bytes,
      created_at: image.created_at.toISOString(),
      placeholder: image.placeholder ? image.placeholder.toString('base64') : null,
      thumbnails,
      original: grantsOriginal(tier) ? { url: urlAt(baseUrl, { imageId: image.id, variant: 'original' }) } : null,
    }
  })
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
