import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createRepositories } from '@imageapi/db'
import { createScratchDatabase } from '@imageapi/db/testing'
import { AccountError, createAccount, ensureAdmin, hashPassword, verifyPassword } from '../src/index.js'

const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)

t.test('passwords are hashed with argon2id and verified', async (t) => {
  const hash = await hashPassword('s3cret!')
  t.match(hash, /^\$argon2id\$/)
  t.equal(await verifyPassword(hash, 's3cret!'), true)
  t.equal(await verifyPassword(hash, 'wrong'), false)
  t.equal(await verifyPassword(undefined, 's3cret!'), false)
  t.equal(await verifyPassword('garbage', 's3cret!'), false)
})

t.test('createAccount validates and names the field', async (t) => {
  const email = `${randomUUID()}@Example.COM`
  const user = await createAccount(repos, { email, password: 'password', tierName: 'Basic' })
  t.equal(user.email, email.toLowerCase())
  t.equal(user.is_admin, false)
  const cases: Array<[Parameters<typeof createAccount>[1], string]> = [
    [{ email: 'not-an-email', password: 'password', tierName: 'Basic' }, 'email'],
    [{ email: `${randomUUID()}@x.io`, password: 'abc', tierName: 'Basic' }, 'password'],
    [{ email: `${randomUUID()}@x.io`, password: 'password', tierName: 'Gold' }, 'tier'],
    [{ email, password: 'password', tierName: 'Basic' }, 'email'],
  ]
  for (const [input, field] of cases) {
    const error = await createAccount(repos, input).then(() => undefined, (e: unknown) => e)
    t.ok(error instanceof AccountError, `rejects ${JSON.stringify(input)}`)
    t.equal((error as AccountError).field, field)
  }
})

t.test('ensureAdmin is idempotent', async (t) => {
  const first = await ensureAdmin(repos, { email: 'admin@example.com', password: 'admin' })
  t.equal(first.created, true)
  t.equal(first.user.is_admin, true)
  const second = await ensureAdmin(repos, { email: 'other@example.com', password: 'admin' })
  t.equal(second.created, false)
  t.equal(second.user.id, first.user.id)
})
