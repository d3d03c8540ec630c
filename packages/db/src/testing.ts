import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createDatabase } from './connection.js'
import { migrateToLatest } from './migrator.js'
import type { Kysely } from 'kysely'
import type { Database } from './schema.js'

export interface ScratchDatabase {
  url: string
  name: string
  db: Kysely<Database>
  drop(): Promise<void>
}

/**
 * A fresh, migrated database for one test file, so test files can run in parallel.
 * `serverUrl` points at any existing database on the server (used only to create and drop).
 */
export async function createScratchDatabase(serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'): Promise<ScratchDatabase> {
  const name = `imageapi_test_${randomBytes(6).toString('hex')}`
  await runOnServer(serverUrl, `create database ${name}`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const db = createDatabase(url.toString(), { max: 5, applicationName: 'imageapi-test' })
  await migrateToLatest(db)
  return {
    url: url.toString(),
    name,
    db,
    async drop() {
      await db.destroy()
      await runOnServer(serverUrl, `drop database if exists ${name} with (force)`)
    },
  }
}

async function runOnServer(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}
