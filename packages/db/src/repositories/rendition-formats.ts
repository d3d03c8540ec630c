import type { Kysely } from 'kysely'
import type { RenditionFormat } from '@imageapi/media'
import type { Backfill, Database, RenditionFormatSettings } from '../schema.js'
import { oweRenditionFormat } from './backfills.js'

export interface RenditionFormatChange {
  enabled?: boolean
  quality?: number
  effort?: number
}

/**
 * The rendition formats' settings. Turning a format on makes every existing thumbnail owe it (a
 * backfill, in the same transaction); turning it off stops making and serving it, and keeps what was
 * made, so turning it on again serves those at once. Quality and effort apply to renditions made
 * from then on.
 */
export class RenditionFormatsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  list(): Promise<RenditionFormatSettings[]> {
    return this.db.selectFrom('rendition_formats').selectAll().orderBy('format').execute()
  }

  /** The changed settings and, when the format was turned on, the backfill that makes it for existing images. */
  update(format: RenditionFormat, change: RenditionFormatChange): Promise<{ settings: RenditionFormatSettings; backfill?: Backfill } | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('rendition_formats').select('enabled').where('format', '=', format).forUpdate().executeTakeFirst()
      if (!before) return undefined
      const settings = await trx
        .updateTable('rendition_formats')
        .set({ ...change, updated_at: new Date() })
        .where('format', '=', format)
        .returningAll()
        .executeTakeFirstOrThrow()
      if (before.enabled || !settings.enabled) return { settings }
      const backfill = await oweRenditionFormat(trx, format)
      return backfill ? { settings, backfill } : { settings }
    })
  }
}
