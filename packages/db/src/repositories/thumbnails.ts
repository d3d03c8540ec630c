import { sql, type Kysely } from 'kysely'
import type { RenditionFormat } from '@imageapi/media'
import type { Database, ImageFormat, ThumbnailStatus } from '../schema.js'
import { thumbnailGrantedSql } from './grants.js'

/** A stored thumbnail, to be recorded in its row. */
export interface ReadyThumbnail {
  height: number
  width: number
  objectKey: string
  bytes: number
}

/** A stored rendition of a thumbnail, to be recorded in its row. */
export interface ReadyRendition {
  height: number
  format: RenditionFormat
  objectKey: string
  bytes: number
}

/** A rendition owed, with the encoder settings its format has now. */
export interface OwedRendition {
  height: number
  format: RenditionFormat
  quality: number
  effort: number
}

export interface ThumbnailWork {
  imageId: string
  format: ImageFormat
  originalKey: string
  /** Displayed size of the original (EXIF orientation applied). */
  width: number
  height: number
  /** The image has no placeholder yet. */
  needsPlaceholder: boolean
  /** Heights still pending that the owner's tier grants now, or that were asked for explicitly. */
  owedHeights: number[]
  /** Renditions still pending, of enabled formats, of thumbnails granted and not failed; by height, then format. */
  owedRenditions: OwedRendition[]
}

/** Conditions under which a pending rendition row is owed (its thumbnail row and tier joined). */
const renditionOwedSql = sql<boolean>`(renditions.status = 'pending' and rendition_formats.enabled and thumbnails.status <> 'failed' and ${thumbnailGrantedSql})`

export class ThumbnailsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * What a job for this image has to do, read fresh from the rows in one query (it runs at the
   * start of every job); undefined when the image is gone.
   */
  async findOwedWork(imageId: string): Promise<ThumbnailWork | undefined> {
    const { rows } = await sql<{
      id: string
      format: ImageFormat
      original_key: string
      width: number
      height: number
      needs_placeholder: boolean
      owed_heights: number[]
      owed_renditions: OwedRendition[]
    }>`
      select images.id, images.format, images.original_key, images.width, images.height, images.placeholder is null as needs_placeholder,
        coalesce((
          select array_agg(thumbnails.height order by thumbnails.height) from thumbnails
          where thumbnails.image_id = images.id and thumbnails.status = 'pending' and ${thumbnailGrantedSql}
        ), '{}') as owed_heights,
        coalesce((
          select json_agg(json_build_object('height', renditions.height, 'format', renditions.format, 'quality', rendition_formats.quality, 'effort', rendition_formats.effort)
            order by renditions.height, renditions.format)
          from renditions
          join rendition_formats on rendition_formats.format = renditions.format
          join thumbnails on thumbnails.image_id = renditions.image_id and thumbnails.height = renditions.height
          where renditions.image_id = images.id and ${renditionOwedSql}
        ), '[]') as owed_renditions
      from images
      join users on users.id = images.owner_id
      join tiers on tiers.id = users.tier_id
      where images.id = ${imageId}
    `.execute(this.db)
    const image = rows[0]
    if (!image) return undefined
    return {
      imageId: image.id,
      format: image.format,
      originalKey: image.original_key,
      width: image.width,
      height: image.height,
      needsPlaceholder: image.needs_placeholder,
      owedHeights: image.owed_heights,
      owedRenditions: image.owed_renditions,
    }
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

  /**
   * Records rendered renditions of one image in one statement. Returns those whose rows were still
   * there (as `height:format`); the caller removes the objects of the others.
   */
  async markRenditionsReady(imageId: string, renditions: readonly ReadyRendition[]): Promise<Set<string>> {
    if (renditions.length === 0) return new Set()
    const { rows } = await sql<{ height: number; format: RenditionFormat }>`
      update renditions
      set status = 'ready', object_key = ready.object_key, bytes = ready.bytes, error = null, updated_at = now()
      from unnest(
        ${renditions.map((r) => r.height)}::int[],
        ${renditions.map((r) => r.format)}::text[],
        ${renditions.map((r) => r.objectKey)}::text[],
        ${renditions.map((r) => r.bytes)}::int[]
      ) as ready(height, format, object_key, bytes)
      where renditions.image_id = ${imageId} and renditions.height = ready.height and renditions.format = ready.format
      returning renditions.height, renditions.format
    `.execute(this.db)
    return new Set(rows.map((row) => renditionName(row.height, row.format)))
  }

  /** Pending thumbnails of these heights fail with the reason, and so do their pending renditions: they cannot be made either. */
  async markFailed(imageId: string, heights: readonly number[], reason: string): Promise<void> {
    if (heights.length === 0) return
    await this.db.transaction().execute(async (trx) => {
      const now = new Date()
      await trx
        .updateTable('thumbnails')
        .set({ status: 'failed', error: reason, updated_at: now })
        .where('image_id', '=', imageId)
        .where('height', 'in', [...heights])
        .where('status', '=', 'pending')
        .execute()
      await trx
        .updateTable('renditions')
        .set({ status: 'failed', error: reason, updated_at: now })
        .where('image_id', '=', imageId)
        .where('height', 'in', [...heights])
        .where('status', '=', 'pending')
        .execute()
    })
  }

  /** Pending renditions of one format that could not be made fail alone; the thumbnail and other formats are unaffected. */
  async markRenditionsFailed(imageId: string, renditions: ReadonlyArray<{ height: number; format: RenditionFormat }>, reason: string): Promise<void> {
    if (renditions.length === 0) return
    await sql`
      update renditions set status = 'failed', error = ${reason}, updated_at = now()
      from unnest(${renditions.map((r) => r.height)}::int[], ${renditions.map((r) => r.format)}::text[]) as failed(height, format)
      where renditions.image_id = ${imageId} and renditions.height = failed.height and renditions.format = failed.format and renditions.status = 'pending'
    `.execute(this.db)
  }

  /**
   * Failed rows of these images that are still owed (granted by the owner's tier now, or asked for)
   * go back to pending for another attempt; the worker renders only pending rows. Returns how many.
   */
  async retryFailed(imageIds: readonly string[]): Promise<number> {
    if (imageIds.length === 0) return 0
    return this.db.transaction().execute(async (trx) => {
      const thumbnails = await sql`
        update thumbnails set status = 'pending', error = null, updated_at = now()
        from images, users, tiers
        where images.id = thumbnails.image_id and users.id = images.owner_id and tiers.id = users.tier_id
          and thumbnails.image_id = any(${[...imageIds]}::uuid[])
          and thumbnails.status = 'failed'
          and ${thumbnailGrantedSql}
      `.execute(trx)
      // after the thumbnails: a rendition is owed again once its thumbnail is no longer failed
      await sql`
        update renditions set status = 'pending', error = null, updated_at = now()
        from thumbnails, images, users, tiers
        where thumbnails.image_id = renditions.image_id and thumbnails.height = renditions.height
          and images.id = renditions.image_id and users.id = images.owner_id and tiers.id = users.tier_id
          and renditions.image_id = any(${[...imageIds]}::uuid[])
          and renditions.status = 'failed'
          and ${thumbnailGrantedSql}
      `.execute(trx)
      return Number(thumbnails.numAffectedRows ?? 0)
    })
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
    const { rows } = await sql<{ image_id: string }>`
      select owed.image_id from (
        select thumbnails.image_id, thumbnails.updated_at
        from thumbnails
        join images on images.id = thumbnails.image_id
        join users on users.id = images.owner_id
        join tiers on tiers.id = users.tier_id
        where thumbnails.status = 'pending' and thumbnails.updated_at < ${cutoff} and ${thumbnailGrantedSql}
        union all
        select renditions.image_id, renditions.updated_at
        from renditions
        join rendition_formats on rendition_formats.format = renditions.format
        join thumbnails on thumbnails.image_id = renditions.image_id and thumbnails.height = renditions.height
        join images on images.id = renditions.image_id
        join users on users.id = images.owner_id
        join tiers on tiers.id = users.tier_id
        where renditions.status = 'pending' and renditions.updated_at < ${cutoff} and ${renditionOwedSql}
      ) as owed
      group by owed.image_id
      order by min(owed.updated_at)
      limit ${limit}
    `.execute(this.db)
    return rows.map((r) => r.image_id)
  }
}

/** How a rendition is named in sets of them: its height and format. */
export function renditionName(height: number, format: RenditionFormat): string {
  return `${height}:${format}`
}
