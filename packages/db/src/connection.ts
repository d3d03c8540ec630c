import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { Database } from './schema.js'

// bigint columns (image bytes) fit comfortably in a JS number for any file we accept.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

export interface DatabaseOptions {
  /** Pool size; a service needs few connections since queries are short. Unset: 10. */
  max?: number | undefined
  /** Name shown in pg_stat_activity. */
  applicationName?: string
}

/**
 * A pool of connections to `connectionString`: Postgres itself, or a pooler such as PgBouncer in
 * transaction mode. What keeps the second working: every statement carries its own parameters and
 * runs as an unnamed prepared statement (Kysely never gives a query a `name`, so node-postgres never
 * makes a named one that a later statement on another server connection would miss), and nothing
 * here sets session state (no SET, search_path, advisory locks, LISTEN, temporary tables or cursors):
 * what a unit of work needs lives inside one transaction. The migrator is the exception; see migrator.ts.
 */
export function createDatabase(connectionString: string, options: DatabaseOptions = {}): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'imageapi',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  })
  // An idle client losing its connection (Postgres restarted) must not crash the process.
  pool.on('error', () => {})
  // Nor may a client in use: node-postgres emits 'error' on it when its connection ends, and the
  // pool listens only while it is idle. PgBouncer ends a client's connection right after failing
  // its query (query_wait_timeout while Postgres is unreachable), before the client is released.
  // The query itself rejects with the error, and the pool drops the dead client on release.
  pool.on('connect', (client) => client.on('error', () => {}))
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
}

/** True for errors that mean "Postgres is not reachable right now" rather than a bug in a query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: string }).code
  // 08P01 is how PgBouncer reports that it cannot reach Postgres ("pgbouncer cannot connect to
  // server", "query_wait_timeout"): a connection exception, like the rest of class 08
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '08P01'].includes(code)) return true
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(error.message)
}

/** Resolves when Postgres answers a trivial query; for readiness probes. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db)
}
