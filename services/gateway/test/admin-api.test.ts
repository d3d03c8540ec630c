import t from 'tap'
import type { InjectOptions } from 'fastify'
import { ConfigError } from '@imageapi/config'
import { createTestUser } from '@imageapi/testkit'
import { buildApp } from '../src/app.js'
import { loadGatewayConfig } from '../src/config.js'
import { signInAdmin } from './helpers/admin.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

const { app, env } = await buildTestGateway(t)
const { admin, token: adminToken, asAdmin } = await signInAdmin(app, env.repos)
const member = await createTestUser(env.repos, 'Basic')
const memberTokens = await login(app, member.email, member.password)

function as(token: string | undefined, options: InjectOptions) {
  return app.inject({ ...options, headers: { ...options.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } })
}

const ADMIN_ROUTES: InjectOptions[] = [
  { method: 'GET', url: '/api/admin/tiers' },
  { method: 'POST', url: '/api/admin/tiers', payload: { name: 'x', thumbnail_heights: 'not even an array' } },
  { method: 'GET', url: '/api/admin/tiers/1' },
  { method: 'PATCH', url: '/api/admin/tiers/1', payload: { thumbnail_heights: [5000] } },
  { method: 'DELETE', url: '/api/admin/tiers/1' },
  { method: 'GET', url: '/api/admin/users' },
  { method: 'POST', url: '/api/admin/users', payload: {} },
  { method: 'GET', url: `/api/admin/users/${admin.user.id}` },
  { method: 'PATCH', url: `/api/admin/users/${admin.user.id}`, payload: { is_admin: false } },
  { method: 'POST', url: `/api/admin/users/${admin.user.id}/deactivate` },
  { method: 'GET', url: `/api/admin/users/${admin.user.id}/webhooks` },
  { method: 'GET', url: '/api/admin/webhooks/00000000-0000-4000-8000-000000000000' },
  { method: 'GET', url: '/api/admin/backfills' },
  { method: 'GET', url: '/api/admin/backfills/00000000-0000-4000-8000-000000000000' },
  { method: 'POST', url: '/api/admin/backfills', payload: { tier: 'Basic' } },
  { method: 'GET', url: '/api/admin/queue' },
  { method: 'POST', url: '/api/admin/queue/retry-failed' },
  { method: 'POST', url: '/api/admin/queue/pause' },
  { method: 'POST', url: '/api/admin/queue/resume' },
  { method: 'POST', url: '/api/admin/session' },
  { method: 'DELETE', url: '/api/admin/session' },
]

t.test('every admin route: 401 without a token, 403 JSON for a non-admin, before the body is even looked at', async (t) => {
  for (const route of ADMIN_ROUTES) {
    const anonymous = await as(undefined, route)
    t.equal(anonymous.statusCode, 401, `${route.method} ${route.url} without a token`)
    const forbidden = await as(memberTokens.access, route)
    t.equal(forbidden.statusCode, 403, `${route.method} ${route.url} as a non-admin`)
    t.same(forbidden.json(), { statusCode: 403, error: 'Forbidden', message: 'this needs an admin account' })
  }
  t.equal((await asAdmin({ method: 'GET', url: '/api/admin/queue' })).json().paused, false, 'nothing was paused by the refused calls')
  const refresh = await as(memberTokens.refresh, { method: 'GET', url: '/api/admin/tiers' })
  t.equal(refresh.statusCode, 401, 'a refresh token is no access token here either')
})

t.test('the OpenAPI document lists every admin route under the admin tag', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  t.ok(doc.tags.some((tag: { name: string }) => tag.name === 'admin'))
  for (const route of ADMIN_ROUTES) {
    const path = String(route.url).replace(/\/(\d+|[0-9a-f-]{36})(?=\/|$)/, '/{id}')
    const operation = doc.paths[path]?.[route.method!.toLowerCase()]
    t.ok(operation, `${route.method} ${path} documented`)
    t.same(operation?.tags, ['admin'])
    t.ok(operation?.responses?.['403'], `${route.method} ${path} documents 403`)
  }
})

t.test('tiers: create, read, list with usage, edit built-ins; validation errors name the field', async (t) => {
  const created = await asAdmin({ method: 'POST', url: '/api/admin/tiers', payload: { name: 'Gallery', thumbnail_heights: [640, 120], original_link: true } })
  t.equal(created.statusCode, 201)
  t.match(created.json(), { name: 'Gallery', thumbnail_heights: [120, 640], original_link: true, expiring_links: false, users: 0 })
  t.equal(created.headers.location, `/api/admin/tiers/${created.json().id}`)
  t.same((await asAdmin({ method: 'GET', url: created.headers.location })).json(), created.json())

  const invalid: Array<[unknown, string, RegExp]> = [
    [{ thumbnail_heights: [200] }, 'name', /name/],
    [{ name: '  ', thumbnail_heights: [200] }, 'name', /must not be blank/],
    [{ name: 'gallery', thumbnail_heights: [200] }, 'name', /a tier named "gallery" already exists/],
    [{ name: 'N' }, 'thumbnail_heights', /thumbnail_heights/],
    [{ name: 'N', thumbnail_heights: [] }, 'thumbnail_heights', /1 to 10 heights/],
    [{ name: 'N', thumbnail_heights: [10] }, 'thumbnail_heights', /from 16 to 4096 \(got 10\)/],
    [{ name: 'N', thumbnail_heights: [5000] }, 'thumbnail_heights', /got 5000/],
    [{ name: 'N', thumbnail_heights: [200, 200] }, 'thumbnail_heights', /distinct/],
    [{ name: 'N', thumbnail_heights: Array.from({ length: 11 }, (_, i) => 100 + i) }, 'thumbnail_heights', /got 11/],
    [{ name: 'N', thumbnail_heights: ['tall'] }, 'thumbnail_heights', /integer/],
    [{ name: 'N', thumbnail_heights: [200], original_link: 'maybe' }, 'original_link', /boolean/],
  ]
  for (const [payload, field, message] of invalid) {
    const response = await asAdmin({ method: 'POST', url: '/api/admin/tiers', payload: payload as object })
    t.equal(response.json().field, field, `${JSON.stringify(payload)} names ${field}`)
    t.match(response.json().message, message)
    t.equal(response.statusCode, /already exists/.test(String(message)) ? 409 : 400)
  }

  const tiers = (await asAdmin({ method: 'GET', url: '/api/admin/tiers' })).json().items
  const basic = tiers.find((tier: { name: string }) => tier.name === 'Basic')
  t.equal(basic.users, 1, 'the member is on Basic')
  const edited = await asAdmin({ method: 'PATCH', url: `/api/admin/tiers/${basic.id}`, payload: { original_link: true } })
  t.equal(edited.statusCode, 200)
  t.match(edited.json(), { tier: { name: 'Basic', original_link: true, thumbnail_heights: [200] }, backfill: null })
  t.equal((await as(memberTokens.access, { method: 'GET', url: '/api/images' })).statusCode, 200)

  t.equal((await asAdmin({ method: 'PATCH', url: `/api/admin/tiers/${basic.id}`, payload: { name: 'Premium' } })).statusCode, 409)
  t.equal((await asAdmin({ method: 'PATCH', url: '/api/admin/tiers/999999', payload: { name: 'x' } })).statusCode, 404)
  const badId = await asAdmin({ method: 'GET', url: '/api/admin/tiers/abc' })
  t.equal(badId.statusCode, 400)
  t.equal(badId.json().field, 'id')
})

t.test('a tier users are on cannot be deleted (409, with a message); an unused one can', async (t) => {
  const basic = (await env.repos.tiers.findByName('Basic'))!
  const inUse = await asAdmin({ method: 'DELETE', url: `/api/admin/tiers/${basic.id}` })
  t.equal(inUse.statusCode, 409)
  t.equal(inUse.json().message, '1 user is still on tier "Basic"; move them to another tier first')
  const spare = (await asAdmin({ method: 'POST', url: '/api/admin/tiers', payload: { name: 'Spare', thumbnail_heights: [100] } })).json()
  const deleted = await asAdmin({ method: 'DELETE', url: `/api/admin/tiers/${spare.id}` })
  t.equal(deleted.statusCode, 204)
  t.equal((await asAdmin({ method: 'GET', url: `/api/admin/tiers/${spare.id}` })).statusCode, 404)
})

t.test('height bounds come from TIER_HEIGHT_MIN / TIER_HEIGHT_MAX, checked at start', async (t) => {
  const config = loadGatewayConfig({ ...env.env, LOG_LEVEL: 'silent', TIER_HEIGHT_MIN: '100', TIER_HEIGHT_MAX: '8000' })
  const custom = await buildApp({ config, storage: env.storage })
  t.teardown(() => custom.close())
  const inject = (heights: number[]) =>
    custom.inject({ method: 'POST', url: '/api/admin/tiers', headers: { authorization: `Bearer ${adminToken}` }, payload: { name: `Big ${heights}`, thumbnail_heights: heights } })
  t.equal((await inject([8000])).statusCode, 201)
  const tooSmall = await inject([50])
  t.equal(tooSmall.statusCode, 400)
  t.match(tooSmall.json(), { field: 'thumbnail_heights', message: /from 100 to 8000 \(got 50\)/ })
  t.throws(() => loadGatewayConfig({ TIER_HEIGHT_MIN: '500', TIER_HEIGHT_MAX: '100' }), ConfigError)
})

t.test('users: list pages and filters, create with the CLI’s rules, read', async (t) => {
  const created = await asAdmin({ method: 'POST', url: '/api/admin/users', payload: { email: 'New.Person@Example.com', password: 'secret-pw', tier: 'Premium' } })
  t.equal(created.statusCode, 201)
  t.match(created.json(), { email: 'new.person@example.com', tier: { name: 'Premium' }, is_admin: false, is_active: true, images: 0 })
  t.notOk('password_hash' in created.json())
  t.same((await asAdmin({ method: 'GET', url: created.headers.location as string })).json(), created.json())
  t.equal((await asAdmin({ method: 'GET', url: '/api/admin/users/not-a-user' })).statusCode, 404)

  const invalid: Array<[object, number, string]> = [
    [{ email: 'nope', password: 'secret-pw', tier: 'Basic' }, 400, 'email'],
    [{ email: 'NEW.person@example.com', password: 'secret-pw', tier: 'Basic' }, 409, 'email'],
    [{ email: 'x@example.com', password: 'abc', tier: 'Basic' }, 400, 'password'],
    [{ email: 'x@example.com', password: 'secret-pw', tier: 'Gold' }, 400, 'tier'],
    [{ email: 'x@example.com', password: 'secret-pw' }, 400, 'tier'],
  ]
  for (const [payload, status, field] of invalid) {
    const response = await asAdmin({ method: 'POST', url: '/api/admin/users', payload })
    t.equal(response.statusCode, status, JSON.stringify(payload))
    t.equal(response.json().field, field)
  }

  const firstPage = await asAdmin({ method: 'GET', url: '/api/admin/users?limit=2' })
  t.equal(firstPage.json().items.length, 2)
  const secondPage = await asAdmin({ method: 'GET', url: `/api/admin/users?limit=2&cursor=${firstPage.json().next_cursor}` })
  const emails = [...firstPage.json().items, ...secondPage.json().items].map((user: { email: string }) => user.email)
  t.same(emails, [...emails].sort(), 'email order across pages')
  t.equal(new Set(emails).size, 3, 'admin, member and the new user, once each')
  t.equal(secondPage.json().next_cursor, null)
  t.same((await asAdmin({ method: 'GET', url: '/api/admin/users?tier=Premium' })).json().items.map((u: { email: string }) => u.email), ['new.person@example.com'])
  t.same((await asAdmin({ method: 'GET', url: '/api/admin/users?email=PERSON' })).json().items.map((u: { email: string }) => u.email), ['new.person@example.com'])
  for (const [query, field] of [['tier=Gold', 'tier'], ['cursor=bm9wZQ', 'cursor'], ['limit=0', 'limit']] as const) {
    const response = await asAdmin({ method: 'GET', url: `/api/admin/users?${query}` })
    t.equal(response.statusCode, 400, query)
    t.equal(response.json().field, field)
  }
})

t.test('users: update email, password and rights; the last active admin stays an admin', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const changed = await asAdmin({ method: 'PATCH', url: `/api/admin/users/${user.user.id}`, payload: { email: `renamed-${user.email}`, password: 'brand-new-pw', is_admin: true } })
  t.equal(changed.statusCode, 200)
  t.match(changed.json(), { user: { email: `renamed-${user.email}`, is_admin: true }, backfill: null })
  await login(app, `renamed-${user.email}`, 'brand-new-pw')
  t.equal((await asAdmin({ method: 'PATCH', url: `/api/admin/users/${user.user.id}`, payload: { email: member.email } })).statusCode, 409)
  t.equal((await asAdmin({ method: 'PATCH', url: `/api/admin/users/${user.user.id}`, payload: { password: 'x' } })).json().field, 'password')

  await asAdmin({ method: 'PATCH', url: `/api/admin/users/${user.user.id}`, payload: { is_admin: false } })
  const lastAdmin = await asAdmin({ method: 'POST', url: `/api/admin/users/${admin.user.id}/deactivate` })
  t.equal(lastAdmin.statusCode, 409)
  t.match(lastAdmin.json(), { field: 'is_active', message: /only active admin/ })
})

t.test('a deactivated user’s tokens stop working at once, and stay void once reactivated (issue 18)', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const tokens = await login(app, user.email, user.password)
  t.equal((await as(tokens.access, { method: 'GET', url: '/api/images' })).statusCode, 200)

  const deactivated = await asAdmin({ method: 'POST', url: `/api/admin/users/${user.user.id}/deactivate` })
  t.equal(deactivated.statusCode, 200)
  t.match(deactivated.json(), { user: { id: user.user.id, is_active: false }, backfill: null }, 'the shape PATCH answers with')
  const refused = await as(tokens.access, { method: 'GET', url: '/api/images' })
  t.equal(refused.statusCode, 401)
  t.equal(refused.json().code, 'user_inactive')
  t.equal((await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh: tokens.refresh } })).statusCode, 401, 'no new access token either')
  t.equal((await app.inject({ method: 'POST', url: '/api/token/', payload: { email: user.email, password: user.password } })).statusCode, 401, 'no sign-in')

  await asAdmin({ method: 'PATCH', url: `/api/admin/users/${user.user.id}`, payload: { is_active: true } })
  t.equal((await as(tokens.access, { method: 'GET', url: '/api/images' })).statusCode, 401, 'reactivation revives no token issued before')
  t.equal((await as((await login(app, user.email, user.password)).access, { method: 'GET', url: '/api/images' })).statusCode, 200, 'a new sign-in works')
})
