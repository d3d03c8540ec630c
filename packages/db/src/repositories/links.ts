import { sql, type Kysely } from 'kysely'
import type { ServedFormat } from '@imageapi/media'
import type { Database, Link } from '../schema.js'

export class LinksRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** `format` pins a thumbnail link to one format; without it the link's format is negotiated. */
  create(link: { imageId: string; variant: string; expiresAt: Date; format?: ServedFormat }): Promise<Link> {
    return this.db
      .insertInto('links')
      .values({ image_id: link.imageId, variant: link.variant, expires_at: link.expiresAt, format: link.format ?? null })
      .returningAll()
      .executeTakeFirstOrThrow()
  }

  /**
   * Creates the link unless the image already has `maxLive` live links (unexpired, unrevoked at
   * `now`): then nothing is written and `live` says how many there are. Creations for one image
   * take turns on its row, so concurrent requests cannot pass the cap together.
   */
  createWithinCap(
    link: { imageId: string; variant: string; expiresAt: Date; format?: ServedFormat },
    cap: { maxLive: number; now: Date },
  ): Promise<{ created: Link } | { created: null; live: number }> {
    return this.db.transaction().execute(async (trx) => {
      // no key update: conflicts with itself (one creation per image at a time), not with foreign keys
      await trx.selectFrom('images').select('id').where('id', '=', link.imageId).forNoKeyUpdate().executeTakeFirst()
      const { live } = await trx
        .selectFrom('links')
        .select((eb) => eb.fn.countAll<string>().as('live'))
        .where('image_id', '=', link.imageId)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', cap.now)
        .executeTakeFirstOrThrow()
      if (Number(live) >= cap.maxLive) return { created: null, live: Number(live) }
      const created = await trx
        .insertInto('links')
        .values({ image_id: link.imageId, variant: link.variant, expires_at: link.expiresAt, format: link.format ?? null })
        .returningAll()
        .executeTakeFirstOrThrow()
      return { created }
    })
  }

  findById(id: string): Promise<Link | undefined> {
    return this.db.selectFrom('links').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** Links of an image that still open: not revoked and not yet expired. */
  listLive(imageId: string, now: Date): Promise<Link[]> {
    return this.db
      .selectFrom('links')
      .selectAll()
      .where('image_id', '=', imageId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .execute()
  }

  /**
   * One page of the live links of an image, newest first (created_at, then id): `afterId` is the
   * last link of the previous page (a link of this image; any other gives an empty page). Asks for
   * one more than `limit` to know whether another page follows. The position is compared in SQL,
   * at the timestamps' full (microsecond) precision.
   */
  async listLivePage(imageId: string, now: Date, options: { limit: number; afterId?: string }): Promise<{ links: Link[]; nextAfterId: string | null }> {
    let query = this.db
      .selectFrom('links')
      .selectAll()
      .where('image_id', '=', imageId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
    if (options.afterId !== undefined) {
      const afterId = options.afterId
      query = query.where(
        sql<boolean>`(created_at, id) < (select l.created_at, l.id from links l where l.id = ${afterId} and l.image_id = ${imageId})`,
      )
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit + 1).execute()
    const links = rows.slice(0, options.limit)
    return { links, nextAfterId: rows.length > options.limit ? links[links.length - 1]!.id : null }
  }

  /**
   * Revokes a link of one of the owner's images: idempotent, so a link already revoked keeps its
   * first revocation time, and an expired one is revoked all the same. False only when the owner
   * has no such link.
   */
  async revokeForOwner(id: string, ownerId: string, now: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('links')
      .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(now)) }))
      .where('id', '=', id)
      .where('image_id', 'in', (eb) => eb.selectFrom('images').select('id').where('owner_id', '=', ownerId))
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }
}
