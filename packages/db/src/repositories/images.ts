import { jsonBuildObject } from 'kysely/helpers/postgres'
import { sql, type Kysely, type Transaction } from 'kysely'
import type { RenditionFormat } from '@imageapi/media'
import type { Database, Image, NewImage, Rendition, Thumbnail, Tier } from '../schema.js'

export type ImageWithThumbnails = Image & { thumbnails: Array<Thumbnail & { renditions?: RenditionFormat[] }> }

/**
 * What a listing shows of a thumbnail: no keys, sizes in bytes or timestamps, which it never returns;
 * and the rendition formats it is ready in (of formats enabled now), which get links of their own.
 */
export type ListedThumbnail = Pick<Thumbnail, 'height' | 'width' | 'status' | 'error' | 'requested'> & { renditions: RenditionFormat[] }

/** What a listing shows of an image, and its seq for the cursor; its thumbnails by height. */
export type ListedImage = Pick<Image, 'id' | 'seq' | 'title' | 'format' | 'width' | 'height' | 'bytes' | 'placeholder' | 'created_at'> & {
  thumbnails: ListedThumbnail[]
}

/** A rendition that can be served: ready, of a format enabled now. */
export type ServableRendition = Pick<Rendition, 'height' | 'format' | 'object_key' | 'bytes' | 'updated_at'>

export interface ImagePage {
  images: ListedImage[]
  /** seq of the last image on the page when more may follow. */
  nextAfterSeq: number | null
}

/** What the links service needs to decide whether a link may still be served. */
export interface ImageForServing {
  image: Image
  tier: Pick<Tier, 'thumbnail_heights' | 'original_link' | 'expiring_links'>
  ownerActive: boolean
  thumbnails: Thumbnail[]
  renditions: ServableRendition[]
}

export class ImagesRepository {
  /** Built once (query builders are immutable): building it anew took most of Kysely's time per listing. */
  private readonly listedImages: ReturnType<typeof selectListedImages>

  constructor(private readonly db: Kysely<Database>) {
    this.listedImages = selectListedImages(db)
  }

  /** The image row and one pending row per given height, in one transaction. */
  async createWithThumbnails(image: NewImage, heights: readonly number[]): Promise<ImageWithThumbnails> {
    return this.db.transaction().execute((trx) => insertImageWithThumbnails(trx, image, heights))
  }

  /** An upload's rows: the image and one pending row per height its owner's tier grants as this commits. */
  async createWithOwedThumbnails(image: NewImage): Promise<ImageWithThumbnails> {
    return this.db.transaction().execute((trx) => insertImageOwedByTier(trx, image))
  }

  /**
   * One keyset page of an owner's images, newest first, each with its thumbnails: one statement,
   * and only the columns a listing returns. Listings are what clients ask for most, and each
   * round trip, row and timestamp parsed is paid on every one of them.
   */
  async listByOwner(ownerId: string, options: { limit: number; afterSeq?: number }): Promise<ImagePage> {
    let query = this.listedImages.where('images.owner_id', '=', ownerId)
    if (options.afterSeq !== undefined) query = query.where('images.seq', '<', options.afterSeq)
    const rows = await query.orderBy('images.seq', 'desc').limit(options.limit + 1).execute()
    const page = rows.slice(0, options.limit)
    // json_agg over no rows is null, not an empty array
    const images = page.map((row) => ({ ...row, thumbnails: row.thumbnails ?? [] }))
    const last = page[page.length - 1]
    return { images, nextAfterSeq: rows.length > options.limit && last ? last.seq : null }
  }

  async findByOwner(id: string, ownerId: string): Promise<ImageWithThumbnails | undefined> {
    const image = await this.db
      .selectFrom('images')
      .selectAll()
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .executeTakeFirst()
    if (!image) return undefined
    const [withThumbnails] = await this.attachThumbnails(this.db, [image])
    return withThumbnails
  }

  /** An image with its thumbnails, whoever owns it: for the worker, which acts for every owner. */
  async findWithThumbnails(id: string): Promise<ImageWithThumbnails | undefined> {
    const image = await this.db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst()
    if (!image) return undefined
    const [withThumbnails] = await this.attachThumbnails(this.db, [image])
    return withThumbnails
  }

  /** The backfills that gave this image work (its thumbnails' and renditions'), to tell when one has finished. */
  async backfillsOf(id: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('thumbnails')
      .select('backfill_id')
      .where('image_id', '=', id)
      .where('backfill_id', 'is not', null)
      .union((eb) => eb.selectFrom('renditions').select('backfill_id').where('image_id', '=', id).where('backfill_id', 'is not', null))
      .execute()
    return rows.map((row) => row.backfill_id!)
  }

  /**
   * Deletes the image (its thumbnails and links go with it) and records every object it had
   * in object_deletions within the same transaction, so a storage failure afterwards leaks nothing.
   * Returns the object keys to remove, or undefined when the owner has no such image.
   */
  async deleteByOwner(id: string, ownerId: string): Promise<string[] | undefined> {
    return this.db.transaction().execute(async (trx) => {
      // read the thumbnail keys first: the delete cascades to their rows
      const thumbnailKeys = await trx
        .selectFrom('thumbnails')
        .innerJoin('images', 'images.id', 'thumbnails.image_id')
        .select('thumbnails.object_key')
        .where('thumbnails.image_id', '=', id)
        .where('images.owner_id', '=', ownerId)
        .where('thumbnails.object_key', 'is not', null)
        .forUpdate()
        .execute()
      const renditionKeys = await trx
        .selectFrom('renditions')
        .select('object_key')
        .where('image_id', '=', id)
        .where('object_key', 'is not', null)
        .execute()
      const image = await trx
        .deleteFrom('images')
        .where('id', '=', id)
        .where('owner_id', '=', ownerId)
        .returning(['id', 'original_key'])
        .executeTakeFirst()
      if (!image) return undefined
      // the renditions' keys are recorded by the database as their rows go (a trigger); listed here to be removed at once
      const keys = [image.original_key, ...[...thumbnailKeys, ...renditionKeys].map((t) => t.object_key as string)]
      await recordObjectDeletions(trx, keys)
      return keys
    })
  }

  async findForServing(id: string): Promise<ImageForServing | undefined> {
    const row = await this.db
      .selectFrom('images')
      .innerJoin('users', 'users.id', 'images.owner_id')
      .innerJoin('tiers', 'tiers.id', 'users.tier_id')
      .selectAll('images')
      .select(['tiers.thumbnail_heights', 'tiers.original_link', 'tiers.expiring_links', 'users.is_active'])
      .where('images.id', '=', id)
      .executeTakeFirst()
    if (!row) return undefined
    const { thumbnail_heights, original_link, expiring_links, is_active, ...image } = row
    const [thumbnails, renditions] = await Promise.all([
      this.db.selectFrom('thumbnails').selectAll().where('image_id', '=', id).execute(),
      this.db
        .selectFrom('renditions')
        .innerJoin('rendition_formats', 'rendition_formats.format', 'renditions.format')
        .select(['renditions.height', 'renditions.format', 'renditions.object_key', 'renditions.bytes', 'renditions.updated_at'])
        .where('renditions.image_id', '=', id)
        .where('renditions.status', '=', 'ready')
        .where('rendition_formats.enabled', '=', true)
        .execute(),
    ])
    return {
      image,
      tier: { thumbnail_heights, original_link, expiring_links },
      ownerActive: is_active,
      thumbnails: sortByHeight(thumbnails),
      renditions,
    }
  }

  /** Records the image's placeholder (a ThumbHash); the worker makes it once, from pixels it decodes anyway. */
  async setPlaceholder(id: string, placeholder: Buffer): Promise<void> {
    await this.db.updateTable('images').set({ placeholder }).where('id', '=', id).execute()
  }

  private async attachThumbnails(db: Kysely<Database> | Transaction<Database>, images: Image[]): Promise<ImageWithThumbnails[]> {
    if (images.length === 0) return []
    const thumbnails = await db
      .selectFrom('thumbnails')
      .selectAll()
      .where(
        'image_id',
        'in',
        images.map((i) => i.id),
      )
      .orderBy('height')
      .execute()
    const ready = await db
      .selectFrom('renditions')
      .innerJoin('rendition_formats', 'rendition_formats.format', 'renditions.format')
      .select(['renditions.image_id', 'renditions.height', 'renditions.format'])
      .where(
        'renditions.image_id',
        'in',
        images.map((i) => i.id),
      )
      .where('renditions.status', '=', 'ready')
      .where('rendition_formats.enabled', '=', true)
      .orderBy('renditions.format')
      .execute()
    const byImage = new Map<string, Array<Thumbnail & { renditions: RenditionFormat[] }>>()
    for (const thumbnail of thumbnails) {
      const list = byImage.get(thumbnail.image_id) ?? []
      list.push({ ...thumbnail, renditions: ready.filter((r) => r.image_id === thumbnail.image_id && r.height === thumbnail.height).map((r) => r.format) })
      byImage.set(thumbnail.image_id, list)
    }
    return images.map((image) => ({ ...image, thumbnails: byImage.get(image.id) ?? [] }))
  }
}

/** The columns a listing shows of each image, and its thumbnails as one JSON array in height order. */
function selectListedImages(db: Kysely<Database>) {
  return db
    .selectFrom('images')
    .select(['images.id', 'images.seq', 'images.title', 'images.format', 'images.width', 'images.height', 'images.bytes', 'images.placeholder', 'images.created_at'])
    .select((eb) =>
      eb
        .selectFrom('thumbnails')
        .select((sub) =>
          sub.fn
            .jsonAgg(
              jsonBuildObject({
                height: sub.ref('thumbnails.height'),
                width: sub.ref('thumbnails.width'),
                status: sub.ref('thumbnails.status'),
                error: sub.ref('thumbnails.error'),
                requested: sub.ref('thumbnails.requested'),
                // formats it is ready in, by the rendition primary key: one index probe per thumbnail
                renditions: sql<RenditionFormat[]>`coalesce((
                  select array_agg(renditions.format order by renditions.format) from renditions
                  join rendition_formats on rendition_formats.format = renditions.format
                  where renditions.image_id = thumbnails.image_id and renditions.height = thumbnails.height
                    and renditions.status = 'ready' and rendition_formats.enabled
                ), '{}')`,
              }),
            )
            .orderBy('thumbnails.height')
            .as('list'),
        )
        .whereRef('thumbnails.image_id', '=', 'images.id')
        .as('thumbnails'),
    )
}

/**
 * Inserts an image and one pending row per height its owner's tier grants, read in this
 * transaction rather than taken from the caller (who read the tier when it authenticated the
 * request, maybe before an admin changed it), and the `requested` ones.
 *
 * The owner's row and then their tier's row are read FOR SHARE, the order in which moving a user
 * and editing a tier lock them: a move or an edit in progress is waited for and its outcome used;
 * one that starts later waits for this to commit, and then re-tiers this image with the others.
 * Two statements, not a join: a join would drop the owner, not re-read the tier, when a move
 * commits while it waits for the lock.
 */
export async function insertImageOwedByTier(
  trx: Transaction<Database>,
  image: NewImage,
  requested: readonly number[] = [],
): Promise<ImageWithThumbnails> {
  const owner = await trx.selectFrom('users').select('tier_id').where('id', '=', image.owner_id).forShare().executeTakeFirstOrThrow()
  const tier = await trx.selectFrom('tiers').select('thumbnail_heights').where('id', '=', owner.tier_id).forShare().executeTakeFirstOrThrow()
  return insertImageWithThumbnails(trx, image, tier.thumbnail_heights, requested)
}

/**
 * Inserts an image and one pending row per height owed: the tier's `heights`, and the `requested`
 * ones (flagged, so they are owed and served whatever the tier grants). A height in both is one row.
 */
export async function insertImageWithThumbnails(
  trx: Transaction<Database>,
  image: NewImage,
  heights: readonly number[],
  requested: readonly number[] = [],
): Promise<ImageWithThumbnails> {
  const created = await trx.insertInto('images').values(image).returningAll().executeTakeFirstOrThrow()
  const owed = [...new Set([...heights, ...requested])]
  const thumbnails = owed.length
    ? await trx
        .insertInto('thumbnails')
        .values(owed.map((height) => ({ image_id: created.id, height, requested: requested.includes(height) })))
        .returningAll()
        .execute()
    : []
  return { ...created, thumbnails: sortByHeight(thumbnails) }
}

export async function recordObjectDeletions(db: Kysely<Database> | Transaction<Database>, keys: string[]): Promise<void> {
  if (keys.length === 0) return
  await db
    .insertInto('object_deletions')
    .values(keys.map((object_key) => ({ object_key })))
    .onConflict((oc) => oc.column('object_key').doNothing())
    .execute()
}

function sortByHeight(thumbnails: Thumbnail[]): Thumbnail[] {
  return [...thumbnails].sort((a, b) => a.height - b.height)
}
