import { sql, type Kysely } from 'kysely'
import type { Database, Link, NewImage } from '../schema.js'
import { insertImageOwedByTier, type ImageWithThumbnails } from './images.js'

export type CompatVariant = 'original' | number

export interface NewCompatUpload {
  image: NewImage
  /** Heights asked for explicitly (a custom box), owed whatever the tier grants. */
  requested?: readonly number[]
  /** The one variant the upload route asked for. */
  variant: CompatVariant
  /** With an expiry, the upload's link is an expiring (revocable, listable) link row. */
  expiresAt?: Date
}

export interface CreatedCompatUpload {
  image: ImageWithThumbnails
  link: Link | null
}

/** One entry of the compat list: an upload and the file its route asked for. */
export interface CompatUploadEntry {
  imageId: string
  title: string
  variant: CompatVariant
  /** The image's displayed size (EXIF orientation applied). */
  imageWidth: number
  imageHeight: number
  /** The rendered width of a thumbnail variant; null for the original or until the worker has made it. */
  thumbnailWidth: number | null
  createdAt: Date
  link: { id: string; expiresAt: Date } | null
}

export interface CompatUploadPage {
  count: number
  entries: CompatUploadEntry[]
}

function parseVariant(variant: string): CompatVariant {
  return variant === 'original' ? 'original' : Number(variant)
}

export class CompatUploadsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * The image, its owed rows (the heights the owner's tier grants as this commits, as for any
   * upload, and the requested ones), the expiring link if any and the compat record: one
   * transaction, so a failure leaves none of them.
   */
  async create(upload: NewCompatUpload): Promise<CreatedCompatUpload> {
    return this.db.transaction().execute(async (trx) => {
      const image = await insertImageOwedByTier(trx, upload.image, upload.requested)
      const variant = String(upload.variant)
      const link = upload.expiresAt
        ? await trx.insertInto('links').values({ image_id: image.id, variant, expires_at: upload.expiresAt }).returningAll().executeTakeFirstOrThrow()
        : null
      await trx
        .insertInto('compat_uploads')
        .values({ image_id: image.id, owner_id: image.owner_id, variant, link_id: link?.id ?? null })
        .execute()
      return { image, link }
    })
  }

  /** One owner's compat uploads, newest first, by offset (the pagination their clients speak); expired links stay listed. */
  async listByOwner(ownerId: string, page: { limit: number; offset: number }): Promise<CompatUploadPage> {
    const [counted, rows] = await Promise.all([
      this.db
        .selectFrom('compat_uploads')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('owner_id', '=', ownerId)
        .executeTakeFirstOrThrow(),
      this.db
        .selectFrom('compat_uploads as c')
        .innerJoin('images as i', 'i.id', 'c.image_id')
        .leftJoin('links as l', 'l.id', 'c.link_id')
        .leftJoin('thumbnails as t', (join) => join.onRef('t.image_id', '=', 'c.image_id').on(sql<boolean>`t.height::text = c.variant`))
        .select(['c.image_id', 'c.variant', 'i.title', 'i.width', 'i.height', 'i.created_at', 't.width as thumbnail_width', 'l.id as link_id', 'l.expires_at'])
        .where('c.owner_id', '=', ownerId)
        .orderBy('c.seq', 'desc')
        .limit(page.limit)
        .offset(page.offset)
        .execute(),
    ])
    return {
      count: Number(counted.n),
      entries: rows.map((row) => ({
        imageId: row.image_id,
        title: row.title,
        variant: parseVariant(row.variant),
        imageWidth: row.width,
        imageHeight: row.height,
        thumbnailWidth: row.thumbnail_width,
        createdAt: row.created_at,
        link: row.link_id && row.expires_at ? { id: row.link_id, expiresAt: row.expires_at } : null,
      })),
    }
  }
}
