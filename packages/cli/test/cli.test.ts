import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createDatabase, createRepositories } from '@imageapi/db'
import { verifyPassword } from '@imageapi/accounts'
import { REPO_ROOT } from '@imageapi/testkit'

const run = promisify(execFile)
const name = `imageapi_cli_${randomBytes(5).toString('hex')}`
const databaseUrl = `postgres://postgres@127.0.0.1:5432/${name}`

t.teardown(async () => {
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })
  await client.connect()
  await client.query(`drop database if exists ${name} with (force)`)
  await client.end()
})

async function imageapi(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', 'packages/cli/src/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl },
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

t.test('migrate creates the database, applies migrations, and is idempotent', async (t) => {
  const first = await imageapi('migrate')
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, `created database ${name}`)
  t.match(first.stdout, /applied migrations: 0001_initial, 0002_seed_tiers/)
  const second = await imageapi('migrate')
  t.match(second.stdout, /the schema is up to date/)
})

t.test('initadmin creates admin@example.com / admin once and says so', async (t) => {
  const first = await imageapi('initadmin')
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, 'created admin admin@example.com with password admin')
  const second = await imageapi('initadmin', '--email', 'other@example.com')
  t.match(second.stdout, 'an admin exists already: admin@example.com')

  const db = createDatabase(databaseUrl, { max: 1 })
  t.teardown(() => db.destroy())
  const admin = await createRepositories(db).users.findByEmail('admin@example.com')
  t.equal(admin?.is_admin, true)
  t.match(admin?.password_hash, /^\$argon2id\$/)
  t.ok(await verifyPassword(admin?.password_hash, 'admin'))
})

t.test('create-user puts a user on a tier; bad input fails with a message naming the field', async (t) => {
  const created = await imageapi('create-user', '--email', 'Pat@Example.com', '--password', 'secret-pw', '--tier', 'Premium')
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, 'created user pat@example.com on tier Premium')

  const db = createDatabase(databaseUrl, { max: 1 })
  t.teardown(() => db.destroy())
  const user = await createRepositories(db).users.findByEmail('pat@example.com')
  t.ok(user)
  t.equal((await createRepositories(db).users.findWithTier(user!.id))?.tier.name, 'Premium')

  const admin = await imageapi('create-user', '--email', 'boss@example.com', '--password', 'secret-pw', '--tier', 'Basic', '--admin', 'yes')
  t.match(admin.stdout, 'created admin boss@example.com on tier Basic', '--admin yes, spelled as in `users create`')
  const notAdmin = await imageapi('create-user', '--email', 'clerk@example.com', '--password', 'secret-pw', '--tier', 'Basic', '--admin', 'no')
  t.match(notAdmin.stdout, 'created user clerk@example.com on tier Basic')
  const badFlag = await imageapi('create-user', '--email', 'z@example.com', '--password', 'secret-pw', '--tier', 'Basic', '--admin', 'maybe')
  t.equal(badFlag.code, 1)
  t.match(badFlag.stderr, /--admin takes yes or no/)

  const badTier = await imageapi('create-user', '--email', 'x@example.com', '--password', 'secret-pw', '--tier', 'Gold')
  t.equal(badTier.code, 1)
  t.match(badTier.stderr, /tier: there is no tier named "Gold"/)
  const duplicate = await imageapi('create-user', '--email', 'pat@example.com', '--password', 'secret-pw', '--tier', 'Basic')
  t.match(duplicate.stderr, /email: a user with email pat@example.com already exists/)
  const missing = await imageapi('create-user', '--email', 'y@example.com')
  t.equal(missing.code, 1)
  t.match(missing.stderr, /needs --password, --tier/)
})

t.test('an unknown command and a bad DATABASE_URL fail clearly', async (t) => {
  const unknown = await imageapi('frobnicate')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /unknown command "frobnicate"/)
  const { code, stderr } = await run(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', 'packages/cli/src/main.ts', 'migrate'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: 'mysql://nope' },
  }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  )
  t.equal(code, 1)
  t.match(stderr, /DATABASE_URL/)
})
