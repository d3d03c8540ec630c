import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { CompatUploadEntry, CompatVariant, UserWithTier } from '@imageapi/db'
import { heightToFitInside, narrowestBoxWidth, renderedSize } from '@imageapi/media'
import { createImage } from './create-image.js'
import type { StoredOriginal } from './receive-upload.js'
import { deleteImageAndFiles } from './delete-image.js'
import { DRF_MESSAGES, type CompatFormValues, type CompatRouteKind, type FieldErrors } from './compat-form.js'

/**
 * The upload and list routes of the Django API we replace, mapped onto our model: an upload is an
 * ordinary image (original kept, every height of the tier made by the worker) plus a record of the
 * one variant its route asked for, which is what their list shows and links to.
 */

/** Path prefix of the links in their list; the gateway forwards it to the links service. */
export const COMPAT_VIEW_PATH = '/api/view/'

// What "small" and "medium" meant there: a thumbnail of this height (there forced into a square).
const SMALL_HEIGHT = 200
const MEDIUM_HEIGHT = 400

/**
 * Whether the account may use a kind of upload route. Rights come from the tier's data, never
 * from its name, so an admin-defined tier works the same way; `custom` sizes are for admins.
 */
export function mayUseRoute(kind: CompatRouteKind, account: UserWithTier): boolean {
  switch (kind) {
    case 'small':
      return account.tier.thumbnail_heights.includes(SMALL_HEIGHT)
    case 'medium':
      return account.tier.thumbnail_heights.includes(MEDIUM_HEIGHT)
    case 'original':
      return account.tier.original_link
    case 'custom':
      return account.is_admin
  }
}

/**
 * A box narrower than the image's 1 px high rendering cannot hold any rendering of it: DRF's words
 * (which clients may match) with the minimum for this image, and why. Any width from 1 is valid
 * for an image at most 1.5 times as wide as it is high; a wider image needs a wider box.
 */
export function narrowBoxMessage(displayed: { width: number; height: number }): string {
  const narrowest = narrowestBoxWidth(displayed)
  return `${DRF_MESSAGES.minValue(narrowest).replace(/\.$/, '')} for this image: it is ${displayed.width}×${displayed.height}, so even its 1 px high rendering is ${narrowest} px wide and a narrower box cannot hold it.`
}

export type CompatUploadOutcome =
  | { kind: 'ready' }
  /** Stored and queued, but the variant was not made within the wait: the work goes on. */
  | { kind: 'processing' }
  /** The upload cannot be served as asked; nothing of it is kept. */
  | { kind: 'invalid'; errors: FieldErrors }

/**
 * Stores an upload with its record (and its expiring link when it asked for an expiry), then waits
 * until the variant it asked for exists: their clients open the link as soon as the upload answers.
 */
export async function createCompatUpload(
  app: FastifyInstance,
  request: FastifyRequest,
  account: UserWithTier,
  upload: { kind: CompatRouteKind; stored: StoredOriginal; values: CompatFormValues; waitMs: number },
): Promise<CompatUploadOutcome> {
  const { kind, values } = upload
  let variant: CompatVariant
  let requested: number[] = []
  if (kind === 'small') variant = SMALL_HEIGHT
  else if (kind === 'medium') variant = MEDIUM_HEIGHT
  else if (kind === 'original') variant = 'original'
  else {
    const displayed = { width: upload.stored.image.displayWidth, height: upload.stored.image.displayHeight }
    const height = heightToFitInside(displayed, values.box!)
    if (height === undefined) {
      return { kind: 'invalid', errors: { width: [narrowBoxMessage(displayed)] } }
    }
    variant = height
    requested = [height]
  }
  // whole seconds, as the link token carries them
  const expiresAt = values.expiresInSeconds === undefined ? undefined : new Date(Math.floor(app.clock() / 1000) * 1000 + values.expiresInSeconds * 1000)
  const { image } = await createImage(app, request, account, { stored: upload.stored, title: values.title }, (row) =>
    app.repos.compatUploads.create({ image: row, requested, variant, ...(expiresAt ? { expiresAt } : {}) }),
  )
  if (variant === 'original') return { kind: 'ready' }

  const waited = await app.waitForThumbnail(image.id, variant, upload.waitMs)
  if (waited.status === 'ready') return { kind: 'ready' }
  if (waited.status === 'pending') return { kind: 'processing' }
  // An upload answered with an error must leave nothing behind, as any rejected upload.
  await deleteImageAndFiles(app, request, image.id, account.id)
  const reason = waited.status === 'failed' ? `The image could not be processed: ${waited.error}` : 'The image was deleted while it was being processed.'
  return { kind: 'invalid', errors: { image: [reason] } }
}

/** One entry of their list: the upload's title, a signed link to the variant it asked for, that file's size. */
export function toCompatListEntry(app: FastifyInstance, request: FastifyRequest, entry: CompatUploadEntry) {
  const claims = entry.link
    ? { imageId: entry.imageId, variant: entry.variant, expiresAt: Math.floor(entry.link.expiresAt.getTime() / 1000), linkId: entry.link.id }
    : { imageId: entry.imageId, variant: entry.variant }
  let resolution: string
  if (entry.variant === 'original') resolution = `${entry.imageWidth}x${entry.imageHeight}`
  else {
    // the size the worker makes it at (never larger than the original), known before it has
    const size = renderedSize({ width: entry.imageWidth, height: entry.imageHeight }, entry.variant)
    resolution = `${entry.thumbnailWidth ?? size.width}x${size.height}`
  }
  return {
    title: entry.title,
    link: `${app.viewLinks.baseUrl(request)}${COMPAT_VIEW_PATH}${app.viewLinks.signer.sign(claims)}/`,
    resolution,
    create_at: entry.createdAt.toISOString(),
    expired_at: entry.link ? entry.link.expiresAt.toISOString() : null,
  }
}
