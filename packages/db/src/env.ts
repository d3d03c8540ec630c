import { Type } from '@imageapi/config'

export const databaseEnvSchema = {
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://', default: 'postgres://postgres@127.0.0.1:5432/imageapi' }),
  /**
   * Connections this process may hold open: its share of Postgres' max_connections (or of a
   * pooler's max_client_conn). Unset: each service's own default (see createDatabase's callers).
   */
  DATABASE_POOL_MAX: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
}

/**
 * For `imageapi migrate` only: Postgres itself, when DATABASE_URL goes through a pooler in
 * transaction mode. The migrator holds a session-level advisory lock across its transaction, which
 * a transaction pooler would leave behind on whichever server connection ran it.
 */
export const databaseMigrationEnvSchema = {
  DATABASE_MIGRATION_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
}
