import { sql, type Kysely } from 'kysely'
import type { Database, NewImage, PendingUpload, PendingUploadKind } from '../schema.js'
import type { SourceFormat } from '@imageapi/media'
import { insertImageOwedByTier, recordObjectDeletions, type ImageWithThumbnails } from './images.js'

export interface NewPendingUpload {
  id: string
  ownerId: string
  kind: PendingUploadKind
  title: string
  format: SourceFormat | null
  bytes: number
  objectKey: string
  expiresAt: Date
}

/**
 * What became of completing an upload: `completed` (the image and what it owes were written),
 * `already_completed` (an image with the upload's id exists: another request completed it first),
 * `gone` (no such upload of that owner: never made, expired and swept, or another user's).
 */
export type CompleteResult = { outcome: 'completed'; image: ImageWithThumbnails } | { outcome: 'already_completed' | 'gone' }

export class PendingUploadsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Inserts the upload unless its owner already has `maxPerOwner` pending ones (`false` then). The
   * count and the insert are serialized per owner, so concurrent requests cannot overshoot the cap.
   */
  create(upload: NewPendingUpload, maxPerOwner: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${`pending-uploads:${upload.ownerId}`}, 0))`.execute(trx)
      const { pending } = await trx
        .selectFrom('pending_uploads')
        .select((eb) => eb.fn.countAll<number>().as('pending'))
        .where('owner_id', '=', upload.ownerId)
        .executeTakeFirstOrThrow()
      if (Number(pending) >= maxPerOwner) return false
      await trx
        .insertInto('pending_uploads')
        .values({
          id: upload.id,
          owner_id: upload.ownerId,
          kind: upload.kind,
          title: upload.title,
          format: upload.format,
          bytes: upload.bytes,
          object_key: upload.objectKey,
          expires_at: upload.expiresAt,
        })
        .execute()
      return true
    })
  }

  findByOwner(id: string, ownerId: string): Promise<PendingUpload | undefined> {
    return this.db.selectFrom('pending_uploads').selectAll().where('id', '=', id).where('owner_id', '=', ownerId).executeTakeFirst()
  }

  /** Keeps a resumable upload alive while bytes arrive. */
  async extend(id: string, expiresAt: Date): Promise<void> {
    await this.db.updateTable('pending_uploads').set({ expires_at: expiresAt }).where('id', '=', id).execute()
  }

  countByOwner(ownerId: string): Promise<number> {
    return this.db
      .selectFrom('pending_uploads')
      .select((eb) => eb.fn.countAll<number>().as('pending'))
      .where('owner_id', '=', ownerId)
      .executeTakeFirstOrThrow()
      .then(({ pending }) => Number(pending))
  }

  /**
   * Makes the upload an image in one transaction: the pending row goes, the image (with the
   * upload's id) and the thumbnails its owner's tier owes at commit come. Of two concurrent
   * completions one wins; the other sees `already_completed`. An upload past `now`'s expiry is `gone`.
   */
  complete(id: string, ownerId: string, image: Omit<NewImage, 'id' | 'owner_id'>, now: Date): Promise<CompleteResult> {
    return this.db.transaction().execute(async (trx): Promise<CompleteResult> => {
      const taken = await trx
        .deleteFrom('pending_uploads')
        .where('id', '=', id)
        .where('owner_id', '=', ownerId)
        .where('expires_at', '>', now)
        .returning('id')
        .executeTakeFirst()
      if (!taken) {
        const image = await trx.selectFrom('images').select('id').where('id', '=', id).where('owner_id', '=', ownerId).executeTakeFirst()
        return { outcome: image ? 'already_completed' : 'gone' }
      }
      return { outcome: 'completed', image: await insertImageOwedByTier(trx, { ...image, id, owner_id: ownerId }) }
    })
  }

  /**
   * Ends an upload that will not become an image (refused, expired): the row goes and `objectKeys`
   * (its staged objects) are recorded in the deletion outbox in the same transaction, so they are
   * removed even if the caller's own removal fails.
   */
  async discard(id: string, ownerId: string, objectKeys: string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('pending_uploads').where('id', '=', id).where('owner_id', '=', ownerId).execute()
      await recordObjectDeletions(trx, objectKeys)
    })
  }

  /** Expired uploads, oldest first, for the sweeper to clear from storage before `forget`ting them. */
  listExpired(now: Date, limit: number): Promise<PendingUpload[]> {
    return this.db.selectFrom('pending_uploads').selectAll().where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute()
  }

  /**
   * Deletes the rows of swept uploads still expired at `now` (one extended meanwhile stays) and
   * records the objects of those deleted, `objectsOf(id)`, in the deletion outbox in the same
   * transaction, so an object whose removal then fails is retried by the reconciler. Returns the
   * keys recorded: the caller removes those, and only those.
   */
  async forgetExpired(ids: string[], objectsOf: (id: string) => string[], now: Date): Promise<string[]> {
    if (ids.length === 0) return []
    return this.db.transaction().execute(async (trx) => {
      const gone = await trx.deleteFrom('pending_uploads').where('id', 'in', ids).where('expires_at', '<=', now).returning('id').execute()
      const keys = gone.flatMap(({ id }) => objectsOf(id))
      await recordObjectDeletions(trx, keys)
      return keys
    })
  }
}
