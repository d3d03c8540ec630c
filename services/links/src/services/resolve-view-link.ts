import { createHash } from 'node:crypto'
import type { Repositories } from '@imageapi/db'
import type { LinkClaims, LinkSigner } from '@imageapi/link-tokens'
import { contentTypeOf, extensionOf, grantsOriginal, grantsThumbnail, type SourceFormat } from '@imageapi/media'

export interface ServableObject {
  kind: 'serve'
  objectKey: string
  contentType: string
  bytes: number
  /** Strong validator: changes whenever the object at this key could have changed. */
  etag: string
  filename: string
  variant: 'original' | number
}

export type RightsOutcome = ServableObject | { kind: 'not_found' } | { kind: 'revoked' }
export type TokenOutcome = { kind: 'valid'; claims: LinkClaims } | { kind: 'not_found' } | { kind: 'expired' }

/** A filename safe in a Content-Disposition header, from a title anyone may have typed. */
export function safeFilename(title: string, variant: 'original' | number, format: SourceFormat): string {
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
 * expiring link, its row exists and has not been revoked.
 */
export async function checkRights(repos: Repositories, claims: LinkClaims): Promise<RightsOutcome> {
  const { imageId, variant, linkId } = claims
  if (linkId) {
    const link = await repos.links.findById(linkId)
    if (!link || link.image_id !== imageId || link.variant !== String(variant)) return { kind: 'not_found' }
    if (link.revoked_at) return { kind: 'revoked' }
  }

  const found = await repos.images.findForServing(imageId)
  if (!found || !found.ownerActive) return { kind: 'not_found' }
  const { image, tier } = found
  // an expiring link is a right of the tier too: losing it closes the live ones
  if (linkId && !tier.expiring_links) return { kind: 'not_found' }
  const common = { contentType: contentTypeOf(image.format), filename: safeFilename(image.title, variant, image.format), variant }

  if (variant === 'original') {
    if (!grantsOriginal(tier)) return { kind: 'not_found' }
    return { kind: 'serve', objectKey: image.original_key, bytes: image.bytes, etag: strongEtag(image.id, 'original', image.bytes), ...common }
  }
  const thumbnail = found.thumbnails.find((t) => t.height === variant)
  if (!thumbnail || !grantsThumbnail(tier, thumbnail)) return { kind: 'not_found' }
  if (thumbnail.status !== 'ready' || !thumbnail.object_key || thumbnail.bytes === null) return { kind: 'not_found' }
  return {
    kind: 'serve',
    objectKey: thumbnail.object_key,
    bytes: thumbnail.bytes,
    etag: strongEtag(image.id, variant, thumbnail.bytes, thumbnail.updated_at.getTime()),
    ...common,
  }
}
