import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely'
import type { RenditionFormat } from '@imageapi/media'
import type { Backfill, BackfillReason, Database, ThumbnailStatus } from '../schema.js'
import { thumbnailGrantedSql } from './grants.js'

/** Whose images a re-tiering touches: every user of a tier, or one user. */
export type RetierScope = { tierId: number } | { userId: string }

/** A backfill and how far it got, counted from its thumbnail rows. */
export interface BackfillProgress extends Backfill {
  /** The tier's name now; null once the tier is deleted (or for a user moved off it since). */
  tier_name: string | null
  /** Thumbnails it owes in all: its rows still there (a deleted image takes its rows along). */
  total: number
  done: number
  failed: number
  pending: number
}

function scopeCondition(scope: RetierScope) {
  return 'tierId' in scope ? sql<boolean>`users.tier_id = ${scope.tierId}` : sql<boolean>`users.id = ${scope.userId}`
}

/**
 * Brings the thumbnail rows of every image in scope in line with its owner's tier as the
 * transaction sees it now; call it in the transaction that changed the tier or moved the user.
 *
 * - Rows of heights the tier no longer grants that hold no object (pending or failed) are deleted:
 *   the worker would skip them forever, and a later re-grant starts them afresh. Rows asked for
 *   explicitly stay (they are owed whatever the tier grants).
 * - Ready rows of heights no longer granted are kept, with their objects: listings and links
 *   already hide them (both check the tier), a re-grant shows them again at once, and they go
 *   with their image.
 * - Every granted height an image lacks gets a pending row, tagged with a new backfill.
 *
 * Returns the backfill, or undefined when nothing new is owed.
 */
export async function retierThumbnails(
  trx: Transaction<Database>,
  scope: RetierScope,
  origin: { reason: BackfillReason; tierId?: number; userId?: string },
): Promise<Backfill | undefined> {
  const inScope = scopeCondition(scope)
  await sql`
    delete from thumbnails
    using images, users, tiers
    where thumbnails.image_id = images.id and users.id = images.owner_id and tiers.id = users.tier_id
      and ${inScope}
      and thumbnails.status <> 'ready' and not ${thumbnailGrantedSql}
  `.execute(trx)

  const backfill = await trx
    .insertInto('backfills')
    .values({ reason: origin.reason, tier_id: origin.tierId ?? null, user_id: origin.userId ?? null, heights: [], images: 0 })
    .returning('id')
    .executeTakeFirstOrThrow()
  const added = await sql<{ images: number; heights: number[] }>`
    with added as (
      insert into thumbnails (image_id, height, backfill_id)
      select images.id, granted.height, ${backfill.id}::uuid
      from images
      join users on users.id = images.owner_id
      join tiers on tiers.id = users.tier_id
      cross join lateral unnest(tiers.thumbnail_heights) as granted(height)
      where ${inScope}
      on conflict (image_id, height) do nothing
      returning image_id, height
    )
    select count(distinct image_id)::int as images, coalesce(array_agg(distinct height order by height), '{}') as heights from added
  `.execute(trx)
  return recordWhatWasAdded(trx, backfill.id, added.rows[0])
}

/**
 * Existing thumbnails owe a rendition format just enabled: one pending row each, tagged with a new
 * backfill (whose progress is counted from them). Only thumbnails that are granted now and not
 * failed: those are the ones the worker will make. Undefined when nothing new is owed.
 */
export async function oweRenditionFormat(trx: Transaction<Database>, format: RenditionFormat): Promise<Backfill | undefined> {
  const backfill = await trx
    .insertInto('backfills')
    .values({ reason: 'format_enabled', format, heights: [], images: 0 })
    .returning('id')
    .executeTakeFirstOrThrow()
  const added = await sql<{ images: number; heights: number[] }>`
    with added as (
      insert into renditions (image_id, height, format, backfill_id)
      select thumbnails.image_id, thumbnails.height, ${format}, ${backfill.id}::uuid
      from thumbnails
      join images on images.id = thumbnails.image_id
      join users on users.id = images.owner_id
      join tiers on tiers.id = users.tier_id
      where thumbnails.status <> 'failed' and ${thumbnailGrantedSql}
      on conflict do nothing
      returning image_id, height
    )
    select count(distinct image_id)::int as images, coalesce(array_agg(distinct height order by height), '{}') as heights from added
  `.execute(trx)
  return recordWhatWasAdded(trx, backfill.id, added.rows[0])
}

/** Records how many images and which heights a backfill gave work to; a backfill that added nothing is removed (undefined). */
async function recordWhatWasAdded(trx: Transaction<Database>, backfillId: string, added: { images: number; heights: number[] } | undefined): Promise<Backfill | undefined> {
  const { images, heights } = added ?? { images: 0, heights: [] }
  if (images === 0) {
    await trx.deleteFrom('backfills').where('id', '=', backfillId).execute()
    return undefined
  }
  return trx.updateTable('backfills').set({ images, heights }).where('id', '=', backfillId).returningAll().executeTakeFirstOrThrow()
}

/** A backfill's rows of one status: thumbnails (re-tiering) and renditions (a format enabled), each tagged with its id. */
function countRows(eb: ExpressionBuilder<Database, 'backfills'>, status: ThumbnailStatus) {
  const thumbnails = eb
    .selectFrom('thumbnails')
    .select((count) => count.fn.countAll<number>().as('count'))
    .whereRef('thumbnails.backfill_id', '=', 'backfills.id')
    .where('thumbnails.status', '=', status)
  const renditions = eb
    .selectFrom('renditions')
    .select((count) => count.fn.countAll<number>().as('count'))
    .whereRef('renditions.backfill_id', '=', 'backfills.id')
    .where('renditions.status', '=', status)
  return sql<number>`(${thumbnails}) + (${renditions})`
}

export class BackfillsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Every image of the tier's users gets a pending row for each granted height it lacks: repairs
   * whatever a change left out (an upload racing a tier change, rows deleted by hand).
   */
  requestForTier(tierId: number): Promise<Backfill | undefined> {
    return this.db.transaction().execute(async (trx) => {
      // a concurrent change of the tier's heights waits for this, and this for it
      await trx.selectFrom('tiers').select('id').where('id', '=', tierId).forShare().executeTakeFirst()
      return retierThumbnails(trx, { tierId }, { reason: 'requested', tierId })
    })
  }

  async find(id: string): Promise<BackfillProgress | undefined> {
    const [found] = await this.selectProgress().where('backfills.id', '=', id).execute()
    return found && withTotal(found)
  }

  /** The latest backfills, newest first. */
  async listRecent(limit: number): Promise<BackfillProgress[]> {
    const rows = await this.selectProgress().orderBy('backfills.created_at', 'desc').limit(limit).execute()
    return rows.map(withTotal)
  }

  /** Ids of the images whose rows in this backfill are still pending, in pages, for queueing. */
  async *pendingImagePages(id: string, pageSize = 500): AsyncGenerator<string[]> {
    let after: string | undefined
    for (;;) {
      const afterCondition = after === undefined ? sql`true` : sql`image_id > ${after}`
      const { rows } = await sql<{ image_id: string }>`
        select image_id from thumbnails where backfill_id = ${id} and status = 'pending' and ${afterCondition}
        union
        select image_id from renditions where backfill_id = ${id} and status = 'pending' and ${afterCondition}
        order by image_id limit ${pageSize}
      `.execute(this.db)
      if (rows.length === 0) return
      yield rows.map((row) => row.image_id)
      if (rows.length < pageSize) return
      after = rows[rows.length - 1]!.image_id
    }
  }

  private selectProgress() {
    return this.db
      .selectFrom('backfills')
      .leftJoin('tiers', 'tiers.id', 'backfills.tier_id')
      .selectAll('backfills')
      .select('tiers.name as tier_name')
      .select((eb) => [countRows(eb, 'ready').as('done'), countRows(eb, 'failed').as('failed'), countRows(eb, 'pending').as('pending')])
  }
}

function withTotal(row: Omit<BackfillProgress, 'total' | 'done' | 'failed' | 'pending'> & { done: number | null; failed: number | null; pending: number | null }): BackfillProgress {
  const done = Number(row.done ?? 0)
  const failed = Number(row.failed ?? 0)
  const pending = Number(row.pending ?? 0)
  return { ...row, done, failed, pending, total: done + failed + pending }
}
