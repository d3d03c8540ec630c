import type { Repositories } from '@imageapi/db'
import type { Logger } from '@imageapi/logger'
import { toImageJson, type ViewLinkUrl } from '@imageapi/image-json'
import { createLinkSigner, parseSigningKeys, VIEW_PATH } from '@imageapi/link-tokens'
import type { WebhookQueue } from '@imageapi/queue'
import { publishWebhookEvent } from '@imageapi/webhook-events'

export interface ImageEventDeps {
  repos: Repositories
  queue: WebhookQueue
  log: Logger
  /** Builds the signed view links in `image.ready` payloads, as the gateway builds them in answers. */
  viewLinkUrl: ViewLinkUrl
  now?: () => number
}

/** View links as the gateway makes them: PUBLIC_URL + VIEW_PATH + a token signed with LINK_SIGNING_KEYS. */
export function viewLinkUrlFrom(config: { PUBLIC_URL: string; LINK_SIGNING_KEYS: string }): ViewLinkUrl {
  const signer = createLinkSigner(parseSigningKeys(config.LINK_SIGNING_KEYS))
  const base = config.PUBLIC_URL.replace(/\/+$/, '')
  return (claims) => `${base}${VIEW_PATH}${signer.sign(claims)}`
}

/**
 * After a thumbnail job: once no thumbnail of the image is owed any more, tells the owner's
 * endpoints `image.ready` (every one ready; the data is the image JSON, links included) or
 * `image.failed` (some failed for good; the JSON and the reasons), once per image (the event key
 * makes a second publication a no-op). Then `backfill.finished` for each backfill this image was
 * the last of. Never throws: the thumbnails are made whatever happens to the news.
 */
export async function publishImageOutcome(deps: ImageEventDeps, imageId: string): Promise<void> {
  try {
    const at = new Date(deps.now?.() ?? Date.now())
    const image = await deps.repos.images.findWithThumbnails(imageId)
    if (!image || image.thumbnails.some((thumbnail) => thumbnail.status === 'pending')) return
    const owner = await deps.repos.users.findWithTier(image.owner_id)
    if (!owner) return
    const json = toImageJson(image, owner.tier, deps.viewLinkUrl)
    const failed = image.thumbnails.filter((thumbnail) => thumbnail.status === 'failed')
    const publish = (event: Parameters<typeof publishWebhookEvent>[1]) => publishWebhookEvent({ repos: deps.repos, queue: deps.queue }, event)
    if (failed.length === 0) {
      await publish({ type: 'image.ready', data: json, audience: { ownerId: image.owner_id }, key: `image.ready:${imageId}`, at })
    } else {
      const reasons = [...new Set(failed.map((thumbnail) => thumbnail.error ?? 'rendering failed'))]
      await publish({ type: 'image.failed', data: { ...json, reasons }, audience: { ownerId: image.owner_id }, key: `image.failed:${imageId}`, at })
    }
    for (const backfillId of await deps.repos.images.backfillsOf(imageId)) {
      const progress = await deps.repos.backfills.find(backfillId)
      if (!progress || progress.pending > 0) continue
      const { id, reason, tier_id, user_id, heights, format, images, total, done, failed } = progress
      const data = { id, reason, tier_id, user_id, heights, format, images, total, done, failed, created_at: progress.created_at.toISOString() }
      await publish({ type: 'backfill.finished', data, audience: 'admins', key: `backfill.finished:${backfillId}`, at })
    }
  } catch (error) {
    deps.log.warn({ err: error, imageId }, 'could not publish the image\'s webhook events')
  }
}
