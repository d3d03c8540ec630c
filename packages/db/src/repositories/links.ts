import type { Kysely } from 'kysely'
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
