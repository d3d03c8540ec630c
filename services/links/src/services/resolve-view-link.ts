import { createHash } from 'node:crypto'
import type { Repositories } from '@imageapi/db'
import type { LinkClaims, LinkSigner } from '@imageapi/link-tokens'
import { contentTypeOf, extensionOf, grantsOriginal, grantsThumbnail, isRenditionFormat, type RenditionFormat, type ServedFormat, type SourceFormat } from '@imageapi/media'

export interface ServableObject {
  objectKey: string
  contentType: string
  bytes: number
  /** Strong validator, distinct per representation: changes whenever the object at this key could have changed. */
  etag: string
  filename: string
  variant: 'original' | number
  format: ServedFormat
}

/**
 * What a link may serve now. A thumbnail link without a pinned format is negotiable: it answers
 * with the best of its representations the request's Accept allows (the source format always is
 * one). An original, and a link pinned to a format, have exactly one representation.
 */
export interface ServableRights {
  kind: 'serve'
  variant: 'original' | number
  source: SourceFormat
  negotiable: boolean
  /** The source-format file (or the original); for a pinned link, the one pinned format. */
  fallback: ServableObject
  /** Ready renditions of enabled formats, for a negotiable link. */
  renditions: ReadonlyMap<RenditionFormat, ServableObject>
}

export type RightsOutcome = ServableRights | { kind: 'not_found' } | { kind: 'revoked' }
export type TokenOutcome = { kind: 'valid'; claims: LinkClaims } | { kind: 'not_found' } | { kind: 'expired' }

/** A filename safe in a Content-Disposition header, from a title anyone may have typed. */
export function safeFilename(title: string, variant: 'original' | number, format: ServedFormat): string {
  const base = title
    .normalize('NFKD')
    .replace(/[^\w.\- ]+/g, '')
    .replace(/\s+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 80)
  const suffix = variant === 'original' ? '' : `-${variant}`
  return `${base || 'image'}${suffix}.${extensionOf(format)}`
}

function strongEtag(...parts: Array<string | number>): string {
  return `"${createHash('sha1').update(parts.join('\u0000')).digest('base64url')}"`
}

/** Signature and expiry, from the token alone: no database or storage call. */
export function checkToken(signer: LinkSigner, token: string, nowSeconds: number): TokenOutcome {
  const verified = signer.verify(token, nowSeconds)
  if (verified.ok) return { kind: 'valid', claims: verified.claims }
  return verified.reason === 'expired' ? { kind: 'expired' } : { kind: 'not_found' }
}

/**
 * What a genuine, live token may open now: the image exists, its owner is active, the owner's tier
 * still grants the variant (or it was asked for explicitly), the thumbnail is ready and, for an
 * expiring link, its row exists and has not been revoked. Every format of a thumbnail is under the
 * same checks: a rendition is served only where its thumbnail would be.
 */
export async function checkRights(repos: Repositories, claims: LinkClaims): Promise<RightsOutcome> {
  const { imageId, variant, linkId, format } = claims
  if (linkId) {
    const link = await repos.links.findById(linkId)
    if (!link || link.image_id !== imageId || link.variant !== String(variant) || (link.format ?? undefined) !== format) return { kind: 'not_found' }
    if (link.revoked_at) return { kind: 'revoked' }
  }

  const found = await repos.images.findForServing(imageId)
  if (!found || !found.ownerActive) return { kind: 'not_found' }
  const { image, tier } = found
  // an expiring link is a right of the tier too: losing it closes the live ones
  if (linkId && !tier.expiring_links) return { kind: 'not_found' }
  const noRenditions = new Map<RenditionFormat, ServableObject>()

  if (variant === 'original') {
    if (!grantsOriginal(tier) || format !== undefined) return { kind: 'not_found' }
    const original = servable(image, variant, image.format, image.original_key, image.bytes, strongEtag(image.id, 'original', image.bytes))
    return { kind: 'serve', variant, source: image.format, negotiable: false, fallback: original, renditions: noRenditions }
  }
  const thumbnail = found.thumbnails.find((t) => t.height === variant)
  if (!thumbnail || !grantsThumbnail(tier, thumbnail)) return { kind: 'not_found' }
  if (thumbnail.status !== 'ready' || !thumbnail.object_key || thumbnail.bytes === null) return { kind: 'not_found' }
  const sourceFile = servable(image, variant, image.format, thumbnail.object_key, thumbnail.bytes, strongEtag(image.id, variant, image.format, thumbnail.bytes, thumbnail.updated_at.getTime()))
  const renditions = new Map<RenditionFormat, ServableObject>()
  for (const rendition of found.renditions) {
    if (rendition.height !== variant || rendition.object_key === null || rendition.bytes === null) continue
    const etag = strongEtag(image.id, variant, rendition.format, rendition.bytes, rendition.updated_at.getTime())
    renditions.set(rendition.format, servable(image, variant, rendition.format, rendition.object_key, rendition.bytes, etag))
  }
  if (format === undefined) return { kind: 'serve', variant, source: image.format, negotiable: true, fallback: sourceFile, renditions }
  const pinned = format === image.format ? sourceFile : isRenditionFormat(format) ? renditions.get(format) : undefined
  if (!pinned) return { kind: 'not_found' }
  return { kind: 'serve', variant, source: image.format, negotiable: false, fallback: pinned, renditions: noRenditions }
}

function servable(image: { title: string }, variant: 'original' | number, format: ServedFormat, objectKey: string, bytes: number, etag: string): ServableObject {
  return { objectKey, bytes, etag, variant, format, contentType: contentTypeOf(format), filename: safeFilename(image.title, variant, format) }
}
