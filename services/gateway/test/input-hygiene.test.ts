import t from 'tap'
import { createTestUser } from '@imageapi/testkit'
import { BAD_CREDENTIALS } from '../src/routes/auth/obtain-token.js'
import { signInAdmin } from './helpers/admin.js'
import { buildTestGateway } from './helpers/build-test-app.js'

const { app, env } = await buildTestGateway(t)
const { asAdmin } = await signInAdmin(app, env.repos)

const PREFIX = 'email must be a plain address like name@example.com: '

/** What the admin API must refuse, and why. */
const HOSTILE_EMAILS: Array<[string, RegExp]> = [
  ['<script>alert(1)</script>@x.test', /contains < or >/],
  ['evil\u001b[2J\u001b]0;pwned\u0007@x.test', /contains a control character/],
  ['csi\u009b31m@x.test', /contains a control character/],
  ['nul\u0000@x.test', /contains a control character/],
  [`${'a'.repeat(240)}@example.com`, /is 252 characters long|before the @ is 240 characters long/],
  ['pat@', /no domain after the @/],
  ['pat', /has no @/],
  ['pat@localhost', /the domain must be/],
  ['"A" <a@b.c>', /contains < or >/],
  ['pat @example.com', /contains a space/],
  ['pat@exa mple.com', /contains a space/],
]

t.test('the admin API refuses a hostile email with 400 and says what is wrong, on create and on change', async (t) => {
  const target = await createTestUser(env.repos, 'Basic')
  for (const [email, reason] of HOSTILE_EMAILS) {
    const created = await asAdmin({ method: 'POST', url: '/api/admin/users', payload: { email, password: 'secret-pw', tier: 'Basic' } })
    t.equal(created.statusCode, 400, `create ${JSON.stringify(email)}`)
    t.equal(created.json().field, 'email')
    t.ok(created.json().message.startsWith(PREFIX), created.json().message)
    t.match(created.json().message, reason)
    const changed = await asAdmin({ method: 'PATCH', url: `/api/admin/users/${target.user.id}`, payload: { email } })
    t.equal(changed.statusCode, 400, `change ${JSON.stringify(email)}`)
    t.equal(changed.json().field, 'email')
    t.match(changed.json().message, reason)
  }
  t.equal(
    (await asAdmin({ method: 'POST', url: '/api/admin/users', payload: { email: 'evil\u001b[31m@x.test', password: 'secret-pw', tier: 'Basic' } })).json().message,
    `${PREFIX}it contains a control character`,
  )
  // longer than the body schema allows: refused before the rules, still 400 naming the field
  const tooLong = await asAdmin({ method: 'POST', url: '/api/admin/users', payload: { email: `${'a'.repeat(300)}@x.test`, password: 'secret-pw', tier: 'Basic' } })
  t.equal(tooLong.statusCode, 400)
  t.equal(tooLong.json().field, 'email')
  t.match(tooLong.json().message, /254/)

  const listed = (await asAdmin({ method: 'GET', url: '/api/admin/users?limit=100' })).json().items as Array<{ email: string }>
  // eslint-disable-next-line no-control-regex
  t.same(listed.filter((user) => /[<>\s\u0000-\u001f\u007f-\u009f]/.test(user.email)), [], 'nothing hostile was stored')
})

t.test('login treats a malformed or hostile email as bad credentials (401), revealing no validation', async (t) => {
  const member = await createTestUser(env.repos, 'Basic')
  for (const [email] of [...HOSTILE_EMAILS, [`${'a'.repeat(300)}@x.test`], ['\u0000'], ['\u001b[2J']]) {
    const response = await app.inject({ method: 'POST', url: '/api/token/', payload: { email, password: member.password } })
    t.equal(response.statusCode, 401, JSON.stringify(email))
    t.same(response.json(), BAD_CREDENTIALS)
  }
  const upper = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: `  ${member.email.toUpperCase()} `, password: member.password } })
  t.equal(upper.statusCode, 200, 'the same normalization as on create: case and surrounding spaces ignored')
})

t.test('tier names are case-insensitive: create and change a user, filter the list, request a backfill', async (t) => {
  const created = await asAdmin({ method: 'POST', url: '/api/admin/users', payload: { email: 'Cased.Person@Example.com', password: 'secret-pw', tier: 'premium' } })
  t.equal(created.statusCode, 201, created.body)
  t.match(created.json(), { email: 'cased.person@example.com', tier: { name: 'Premium' } })

  const premium = await asAdmin({ method: 'GET', url: '/api/admin/users?tier=PREMIUM&limit=100' })
  t.equal(premium.statusCode, 200)
  t.same(
    premium.json().items.map((user: { email: string; tier: { name: string } }) => [user.email, user.tier.name]),
    [['cased.person@example.com', 'Premium']],
  )

  const moved = await asAdmin({ method: 'PATCH', url: `/api/admin/users/${created.json().id}`, payload: { tier: 'basic' } })
  t.equal(moved.statusCode, 200, moved.body)
  t.equal(moved.json().user.tier.name, 'Basic')
  const basic = await asAdmin({ method: 'GET', url: '/api/admin/users?tier=basic&limit=100' })
  t.equal(basic.statusCode, 200)
  const basicUsers = basic.json().items as Array<{ email: string; tier: { name: string } }>
  t.ok(basicUsers.some((user) => user.email === 'cased.person@example.com'), 'the moved user is listed under ?tier=basic')
  t.ok(basicUsers.length > 1 && basicUsers.every((user) => user.tier.name === 'Basic'), 'only Basic users, with the name as stored')

  const backfill = await asAdmin({ method: 'POST', url: '/api/admin/backfills', payload: { tier: 'enterprise' } })
  t.ok([200, 201].includes(backfill.statusCode), backfill.body)

  const unknown = await asAdmin({ method: 'GET', url: '/api/admin/users?tier=gold' })
  t.equal(unknown.statusCode, 400)
  t.match(unknown.json(), { field: 'tier', message: 'there is no tier named "gold"' })
  const nul = await asAdmin({ method: 'GET', url: '/api/admin/users?tier=%00' })
  t.equal(nul.statusCode, 400, 'a NUL names no tier; no database error')

  const tier = await asAdmin({ method: 'POST', url: '/api/admin/tiers', payload: { name: 'basic', thumbnail_heights: [100] } })
  t.equal(tier.statusCode, 409, 'uniqueness ignores case as lookups do')
})

t.test('the ?email filter is plain text: control characters find nothing, and break nothing', async (t) => {
  for (const text of ['%00', '%1B%5B2J', '%C2%9B', '%25', '_']) {
    const response = await asAdmin({ method: 'GET', url: `/api/admin/users?email=${text}` })
    t.equal(response.statusCode, 200, text)
    t.same(response.json().items, [], text)
  }
  const cursor = Buffer.from('e:a\u0000b').toString('base64url')
  const forged = await asAdmin({ method: 'GET', url: `/api/admin/users?cursor=${cursor}` })
  t.equal(forged.statusCode, 400, 'a cursor holding a NUL is not one the API returned')
  t.equal(forged.json().field, 'cursor')
})
