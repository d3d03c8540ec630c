import pg from 'pg'

/**
 * Creates the database named in the URL when it does not exist yet, so that the first
 * `imageapi migrate` on a fresh PostgreSQL needs no manual step.
 */
export async function ensureDatabaseExists(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl)
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''))
  if (!name) throw new Error('DATABASE_URL names no database')
  const server = new URL(databaseUrl)
  server.pathname = '/postgres'
  const client = new pg.Client({ connectionString: server.toString() })
  await client.connect()
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name])
    if (exists.rowCount) return false
    await client.query(`create database ${pg.escapeIdentifier(name)}`)
    return true
  } finally {
    await client.end()
  }
}
