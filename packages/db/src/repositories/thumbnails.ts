import { sql, type Kysely } from 'kysely'
import type { Database, ImageFormat, ThumbnailStatus } from '../schema.js'

export interface ThumbnailWork {
  imageId: string
  format: ImageFormat
  originalKey: string
  /** Heights still pending that the owner's tier grants now, or that were asked for explicitly. */
  owedHeights: number[]
}

export class ThumbnailsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** What a job for this image has to do, read fresh from the rows; undefined when the image is gone. */
  async findOwedWork(imageId: string): Promise<ThumbnailWork | undefined> {
    const image = await this.db
      .selectFrom('images')
      .innerJoin('users', 'users.id', 'images.owner_id')
      .innerJoin('tiers', 'tiers.id', 'users.tier_id')
      .select(['images.id', 'images.format', 'images.original_key', 'tiers.thumbnail_heights'])
      .where('images.id', '=', imageId)
      .executeTakeFirst()
    if (!image) return undefined
    const pending = await this.db
      .selectFrom('thumbnails')
      .select(['height', 'requested'])
      .where('image_id', '=', imageId)
      .where('status', '=', 'pending')
      .orderBy('height')
      .execute()
    const granted = new Set(image.thumbnail_heights)
    return {
      imageId: image.id,
      format: image.format,
      originalKey: image.original_key,
      owedHeights: pending.filter((p) => p.requested || granted.has(p.height)).map((p) => p.height),
    }
  }

  /**
   * Records a rendered thumbnail. Returns false when its row no longer exists (the image was
   * deleted, or the height is no longer owed) so the caller can remove the object it just wrote.
   */
  async markReady(imageId: string, height: number, result: { width: number; objectKey: string; bytes: number }): Promise<boolean> {
    const updated = await this.db
      .updateTable('thumbnails')
      .set({ status: 'ready', width: result.width, object_key: result.objectKey, bytes: result.bytes, error: null, updated_at: new Date() })
      .where('image_id', '=', imageId)
      .where('height', '=', height)
      .executeTakeFirst()
    return updated.numUpdatedRows > 0n
  }

  async markFailed(imageId: string, heights: readonly number[], reason: string): Promise<void> {
    if (heights.length === 0) return
    await this.db
      .updateTable('thumbnails')
      .set({ status: 'failed', error: reason, updated_at: new Date() })
      .where('image_id', '=', imageId)
      .where('height', 'in', [...heights])
      .where('status', '=', 'pending')
      .execute()
  }

  /**
   * Failed rows of these images that are still owed (granted by the owner's tier now, or asked for)
   * go back to pending for another attempt; the worker renders only pending rows. Returns how many.
   */
  async retryFailed(imageIds: readonly string[]): Promise<number> {
    if (imageIds.length === 0) return 0
    const result = await sql`
      update thumbnails set status = 'pending', error = null, updated_at = now()
      from images, users, tiers
      where images.id = thumbnails.image_id and users.id = images.owner_id and tiers.id = users.tier_id
        and thumbnails.image_id = any(${[...imageIds]}::uuid[])
        and thumbnails.status = 'failed'
        and (thumbnails.requested or thumbnails.height = any(tiers.thumbnail_heights))
    `.execute(this.db)
    return Number(result.numAffectedRows ?? 0)
  }

  /** A thumbnail's status and, once it failed, why; undefined when there is no such row (or image). */
  findStatus(imageId: string, height: number): Promise<{ status: ThumbnailStatus; error: string | null } | undefined> {
    return this.db.selectFrom('thumbnails').select(['status', 'error']).where('image_id', '=', imageId).where('height', '=', height).executeTakeFirst()
  }

  /**
   * Images with thumbnails owed (pending, and a height the owner's tier grants now or one asked for
   * explicitly) since before the cutoff: work Redis may have lost. Oldest first, so a backlog cannot
   * starve the oldest work.
   */
  async listImagesPendingSince(cutoff: Date, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('thumbnails')
      .innerJoin('images', 'images.id', 'thumbnails.image_id')
      .innerJoin('users', 'users.id', 'images.owner_id')
      .innerJoin('tiers', 'tiers.id', 'users.tier_id')
      .select('thumbnails.image_id')
      .select((eb) => eb.fn.min('thumbnails.updated_at').as('oldest'))
      .where('thumbnails.status', '=', 'pending')
      .where('thumbnails.updated_at', '<', cutoff)
      .where(sql<boolean>`(thumbnails.requested or thumbnails.height = any(tiers.thumbnail_heights))`)
      .groupBy('thumbnails.image_id')
      .orderBy('oldest')
      .limit(limit)
      .execute()
    return rows.map((r) => r.image_id)
  }
}
