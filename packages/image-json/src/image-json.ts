import type { ImagePage, ImageWithThumbnails, Tier } from '@imageapi/db'
import type { LinkClaims } from '@imageapi/link-tokens'
import { grantsOriginal, grantsThumbnail, renderedSize, RENDITION_PREFERENCE } from '@imageapi/media'
import type { ImageResource } from './schema.js'

/** What the JSON is built from: a listed image (only the columns the API returns) or a whole row. */
export type ShownImage = ImagePage['images'][number] | ImageWithThumbnails

/** Makes the absolute URL of a signed view link (the deployment's public address + the token). */
export type ViewLinkUrl = (claims: LinkClaims) => string

/**
 * The API's view of an image: only the variants the owner's tier grants now (a height dropped from
 * the tier disappears) and those asked for explicitly, each with a signed link once it is ready.
 * One home for the gateway's answers and the worker's `image.ready` webhooks, so both say the same.
 */
export function toImageJson(image: ShownImage, tier: Pick<Tier, 'thumbnail_heights' | 'original_link'>, urlOf: ViewLinkUrl): ImageResource {
  const thumbnails: ImageResource['thumbnails'] = []
  for (const thumbnail of image.thumbnails) {
    if (!grantsThumbnail(tier, thumbnail)) continue
    const ready = thumbnail.status === 'ready'
    const shown: ImageResource['thumbnails'][number] = {
      height: thumbnail.height,
      width: thumbnail.width,
      rendered_height: ready ? renderedSize(image, thumbnail.height).height : null,
      status: thumbnail.status,
      url: ready ? urlOf({ imageId: image.id, variant: thumbnail.height }) : null,
    }
    if (ready) {
      const formats: NonNullable<ImageResource['thumbnails'][number]['formats']> = {}
      for (const format of [...RENDITION_PREFERENCE.filter((f) => thumbnail.renditions?.includes(f)), image.format]) {
        formats[format] = urlOf({ imageId: image.id, variant: thumbnail.height, format })
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
    original: grantsOriginal(tier) ? { url: urlOf({ imageId: image.id, variant: 'original' }) } : null,
  }
}
