import type { Kysely } from 'kysely'
import { Migrator, type MigrationResult } from 'kysely/migration'
import { migrations } from './migrations/index.js'

export interface MigrationReport {
  applied: string[]
}

/**
 * Brings the schema to the latest version; safe to run concurrently (Kysely takes an advisory lock).
 *
 * Needs a session: give it Postgres itself, never a pooler in transaction mode. Kysely takes a
 * session-level `pg_advisory_lock` before the migrations' transaction and unlocks after it, as
 * separate statements; through a transaction pooler each may run on a different server
 * connection, so the unlock misses and the lock stays on a pooled connection, and the next
 * migration waits on it (up to an hour, Kysely's lock_timeout). `imageapi migrate` connects to
 * DATABASE_MIGRATION_URL for this when it is set.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationReport> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(String(error))
  return { applied: (results ?? []).filter((r: MigrationResult) => r.status === 'Success').map((r) => r.migrationName) }
}
