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

  /** Revokes a link of one of the owner's images; false when there is no such link for that owner. */
  async revokeForOwner(id: string, ownerId: string, now: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('links')
      .set({ revoked_at: now })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .where('image_id', 'in', (eb) => eb.selectFrom('images').select('id').where('owner_id', '=', ownerId))
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }
}
