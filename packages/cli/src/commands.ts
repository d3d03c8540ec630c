import { AccountError, createAccount, ensureAdmin, findAccount } from '@imageapi/accounts'
import { createDatabase, createRepositories, migrateToLatest } from '@imageapi/db'
import { ensureDatabaseExists } from './ensure-database.js'

export const DEFAULT_ADMIN = { email: 'admin@example.com', password: 'admin' }

export type Print = (line: string) => void

export async function withRepositories<T>(databaseUrl: string, work: (repos: ReturnType<typeof createRepositories>) => Promise<T>): Promise<T> {
  const db = createDatabase(databaseUrl, { max: 2, applicationName: 'imageapi-cli' })
  try {
    return await work(createRepositories(db))
  } finally {
    await db.destroy()
  }
}

export async function migrate(databaseUrl: string, print: Print): Promise<void> {
  if (await ensureDatabaseExists(databaseUrl)) print(`created database ${new URL(databaseUrl).pathname.slice(1)}`)
  const db = createDatabase(databaseUrl, { max: 1, applicationName: 'imageapi-cli' })
  try {
    const { applied } = await migrateToLatest(db)
    print(applied.length ? `applied migrations: ${applied.join(', ')}` : 'the schema is up to date')
  } finally {
    await db.destroy()
  }
}

export async function initAdmin(databaseUrl: string, admin: { email: string; password: string }, print: Print): Promise<void> {
  await withRepositories(databaseUrl, async (repos) => {
    const result = await ensureAdmin(repos, admin)
    if (result.created) print(`created admin ${result.user.email} with password ${admin.password}`)
    else print(`an admin exists already: ${result.user.email} (nothing changed)`)
  })
}

export async function createUser(databaseUrl: string, user: { email: string; password: string; tier: string; admin: boolean }, print: Print): Promise<void> {
  await withRepositories(databaseUrl, async (repos) => {
    const created = await createAccount(repos, { email: user.email, password: user.password, tierName: user.tier, isAdmin: user.admin })
    // the tier as it is named (--tier premium finds Premium)
    const { tier_name } = await findAccount(repos, created.id)
    print(`created ${created.is_admin ? 'admin' : 'user'} ${created.email} on tier ${tier_name}`)
  })
}

export { AccountError }
