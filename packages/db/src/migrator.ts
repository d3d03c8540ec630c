import type { Kysely } from 'kysely'
import { Migrator, type MigrationResult } from 'kysely/migration'
import { migrations } from './migrations/index.js'

export interface MigrationReport {
  applied: string[]
}

/** Brings the schema to the latest version; safe to run concurrently (Kysely takes an advisory lock). */
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationReport> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(String(error))
  return { applied: (results ?? []).filter((r: MigrationResult) => r.status === 'Success').map((r) => r.migrationName) }
}
