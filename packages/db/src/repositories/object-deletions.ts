import type { Kysely } from 'kysely'
import type { Database } from '../schema.js'
import { recordObjectDeletions } from './images.js'

export class ObjectDeletionsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  record(keys: string[]): Promise<void> {
    return recordObjectDeletions(this.db, keys)
  }

  /** Called once the objects are really gone from storage. */
  async confirm(keys: string[]): Promise<void> {
    if (keys.length === 0) return
    await this.db.deleteFrom('object_deletions').where('object_key', 'in', keys).execute()
  }

  /** Deletions nobody confirmed (storage was down when the row went), oldest first. */
  async listOlderThan(cutoff: Date, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('object_deletions')
      .select('object_key')
      .where('created_at', '<', cutoff)
      .orderBy('created_at')
      .limit(limit)
      .execute()
    return rows.map((r) => r.object_key)
  }
}
