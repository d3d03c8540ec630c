import { sql, type Kysely } from 'kysely'
import type { Database, ImageFormat, ThumbnailStatus } from '../schema.js'
import { thumbnailGrantedSql } from './grants.js'

/** A stored thumbnail, to be recorded in its row. */
export interface ReadyThumbnail {
  height: number
  width: number
  objectKey: string
  bytes: number
}

export interface ThumbnailWork {
  imageId: string
  format: ImageFormat
  originalKey: string
  /** Heights still pending that the owner's tier grants now, or that were asked for explicitly. */
  owedHeights: number[]
}

export class ThumbnailsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * What a job for this image has to do, read fresh from the rows in one query (it runs at the
   * start of every job); undefined when the image is gone.
   */
  async findOwedWork(imageId: string): Promise<ThumbnailWork | undefined> {
    const { rows } = await sql<{ id: string; format: ImageFormat; original_key: string; owed_heights: number[] }>`
      select images.id, images.format, images.original_key,
        coalesce(array_agg(thumbnails.height order by thumbnails.height) filter (where thumbnails.height is not null), '{}') as owed_heights
      from images
      join users on users.id = images.owner_id
      join tiers on tiers.id = users.tier_id
      left join thumbnails on thumbnails.image_id = images.id
        and thumbnails.status = 'pending'
        and ${thumbnailGrantedSql}
      where images.id = ${imageId}
      group by images.id
    `.execute(this.db)
    const image = rows[0]
    if (!image) return undefined
    return { imageId: image.id, format: image.format, originalKey: image.original_key, owedHeights: image.owed_heights }
  }

  /**
   * Records a rendered thumbnail. Returns false when its row no longer exists (the image was
   * deleted, or the height is no longer owed) so the caller can remove the object it just wrote.
   */
  async markReady(imageId: string, height: number, result: { width: number; objectKey: string; bytes: number }): Promise<boolean> {
    return (await this.markReadyMany(imageId, [{ height, ...result }])).includes(height)
  }

  /**
   * Records several rendered thumbnails of one image in one statement. Returns the heights whose
   * rows were still there, ascending; for any other height the image was deleted, or the height is
   * no longer owed, and the caller removes the object it wrote.
   */
  async markReadyMany(imageId: string, thumbnails: readonly ReadyThumbnail[]): Promise<number[]> {
    if (thumbnails.length === 0) return []
    const { rows } = await sql<{ height: number }>`
      update thumbnails
      set status = 'ready', width = ready.width, object_key = ready.object_key, bytes = ready.bytes, error = null, updated_at = now()
      from unnest(
        ${thumbnails.map((t) => t.height)}::int[],
        ${thumbnails.map((t) => t.width)}::int[],
        ${thumbnails.map((t) => t.objectKey)}::text[],
        ${thumbnails.map((t) => t.bytes)}::int[]
      ) as ready(height, width, object_key, bytes)
      where thumbnails.image_id = ${imageId} and thumbnails.height = ready.height
      returning thumbnails.height
    `.execute(this.db)
    return rows.map((row) => row.height).sort((a, b) => a - b)
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
        and ${thumbnailGrantedSql}
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
      .where(thumbnailGrantedSql)
      .groupBy('thumbnails.image_id')
      .orderBy('oldest')
      .limit(limit)
      .execute()
    return rows.map((r) => r.image_id)
  }
}
