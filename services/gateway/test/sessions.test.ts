import t from 'tap'
import type { InjectOptions } from 'fastify'
import { createTestUser } from '@imageapi/testkit'
import { buildTestGateway } from './helpers/build-test-app.js'
import { signInAdmin } from './helpers/admin.js'

// Issue 18 item 1: sessions are rows; every attack below used to work and now fails for the attacker.
const { app, env } = await buildTestGateway(t)
const { asAdmin } = await signInAdmin(app, env.repos)

const REFRESH_NOT_VALID = { detail: 'Token is invalid or expired', code: 'token_not_valid' }

/** Each sign-in from its own address, so the per-IP login limit never gets in the way. */
let addressCounter = 10
function nextAddress(): string {
  return `198.51.100.${addressCounter++}`
}

async function signIn(email: string, password: string, device: { userAgent?: string; address?: string } = {}) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/token/',
    payload: { email, password },
    remoteAddress: device.address ?? nextAddress(),
    headers: device.userAgent ? { 'user-agent': device.userAgent } : {},
  })
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return response.json() as { access: string; refresh: string }
}

function refresh(token: string) {
  return app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh: token }, remoteAddress: nextAddress() })
}

function logout(token: string) {
  return app.inject({ method: 'POST', url: '/api/token/logout/', payload: { refresh: token }, remoteAddress: nextAddress() })
}

function as(access: string, options: InjectOptions) {
  return app.inject({ ...options, headers: { ...options.headers, authorization: `Bearer ${access}` } })
}

function listSessions(access: string, query = '') {
  return as(access, { method: 'GET', url: `/api/sessions${query}` })
}

t.test('a stolen refresh token stops working once the password is changed: 401, and old access tokens too', async (t) => {
  const victim = await createTestUser(env.repos, 'Basic')
  const stolen = await signIn(victim.email, victim.password)
  t.equal((await as(stolen.access, { method: 'GET', url: '/api/images' })).statusCode, 200, 'works before')

  const changed = await asAdmin({ method: 'PATCH', url: `/api/admin/users/${victim.user.id}`, payload: { password: 'a-brand-new-password' } })
  t.equal(changed.statusCode, 200)

  const refreshed = await refresh(stolen.refresh)
  t.equal(refreshed.statusCode, 401, 'the old refresh token gets no new access token')
  t.same(refreshed.json(), REFRESH_NOT_VALID, "simplejwt's shape")
  t.equal((await as(stolen.access, { method: 'GET', url: '/api/images' })).statusCode, 401, 'the old access token is void at once')

  const fresh = await signIn(victim.email, 'a-brand-new-password')
  t.equal((await as(fresh.access, { method: 'GET', url: '/api/images' })).statusCode, 200, 'the new password signs in')
  t.same((await listSessions(fresh.access)).json().items.length, 1, 'only the new session is live')
})

t.test('deactivate then reactivate: an access or refresh token issued before stays refused (401)', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const old = await signIn(user.email, user.password)
  t.equal((await asAdmin({ method: 'POST', url: `/api/admin/users/${user.user.id}/deactivate` })).statusCode, 200)
  t.equal((await asAdmin({ method: 'PATCH', url: `/api/admin/users/${user.user.id}`, payload: { is_active: true } })).statusCode, 200)

  const revived = await as(old.access, { method: 'GET', url: '/api/images' })
  t.equal(revived.statusCode, 401, 'the old access token is not revived')
  t.equal(revived.json().code, 'token_not_valid')
  t.equal((await refresh(old.refresh)).statusCode, 401, 'nor the old refresh token')
  const fresh = await signIn(user.email, user.password)
  t.equal((await as(fresh.access, { method: 'GET', url: '/api/images' })).statusCode, 200, 'a new sign-in works')
})

t.test('a reused (already rotated) refresh token answers 401 and ends its session: its newest refresh token answers 401 too', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const first = await signIn(user.email, user.password)

  const rotated = await refresh(first.refresh)
  t.equal(rotated.statusCode, 200)
  t.same(Object.keys(rotated.json()).sort(), ['access', 'refresh'], 'rotation: a new refresh beside the access token')
  const second = rotated.json() as { access: string; refresh: string }
  t.not(second.refresh, first.refresh)
  t.equal((await as(second.access, { method: 'GET', url: '/api/images' })).statusCode, 200)

  // the thief replays the copy of the first refresh token
  const replayed = await refresh(first.refresh)
  t.equal(replayed.statusCode, 401)
  t.same(replayed.json(), REFRESH_NOT_VALID)

  const owners = await refresh(second.refresh)
  t.equal(owners.statusCode, 401, 'the whole family is ended: the newest refresh token of the session too')
  t.same(owners.json(), REFRESH_NOT_VALID)

  const other = await signIn(user.email, user.password)
  const live = (await listSessions(other.access)).json().items as Array<{ id: string }>
  t.equal(live.length, 1, 'the ended session is not listed')
})

t.test('a rotated refresh token keeps the session: refreshing with the newest one works, again and again', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  let tokens = await signIn(user.email, user.password)
  for (let i = 0; i < 3; i++) {
    const response = await refresh(tokens.refresh)
    t.equal(response.statusCode, 200)
    tokens = response.json()
  }
  const items = (await listSessions(tokens.access)).json().items
  t.equal(items.length, 1, 'still one session')
  t.equal(items[0].current, true, "an access token from a refresh belongs to the sign-in's session")
})

t.test('logout ends the session: 200 {}, then its refresh token answers 401', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const tokens = await signIn(user.email, user.password)
  const keep = await signIn(user.email, user.password)

  const out = await logout(tokens.refresh)
  t.equal(out.statusCode, 200)
  t.same(out.json(), {})
  const refused = await refresh(tokens.refresh)
  t.equal(refused.statusCode, 401, 'the refresh token of an ended session')
  t.same(refused.json(), REFRESH_NOT_VALID)
  t.equal((await logout(tokens.refresh)).statusCode, 401, 'logging out twice: the session is ended already')
  t.equal((await refresh(keep.refresh)).statusCode, 200, 'other sessions of the user stay')

  t.equal((await logout(tokens.access)).statusCode, 401, 'an access token does not log out')
  t.equal((await logout('garbage')).statusCode, 401)
  const missing = await app.inject({ method: 'POST', url: '/api/token/logout/', payload: {}, remoteAddress: nextAddress() })
  t.equal(missing.statusCode, 400)
  t.same(missing.json(), { refresh: ['This field is required.'] })
})

t.test('the sessions list shows user agent and address of each session, and marks the current one', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const phone = await signIn(user.email, user.password, { userAgent: 'Phone/1.0', address: '203.0.113.7' })
  const laptop = await signIn(user.email, user.password, { userAgent: `Laptop/2.0 ${'x'.repeat(2000)}`, address: '203.0.113.8' })

  const response = await listSessions(laptop.access)
  t.equal(response.statusCode, 200)
  const items = response.json().items as Array<Record<string, unknown>>
  t.equal(items.length, 2)
  const [newest, oldest] = items
  t.match(newest, { user_agent: /^Laptop\/2\.0 x+$/, address: '203.0.113.8', current: true })
  t.ok((newest!.user_agent as string).length <= 512, 'the user agent is truncated')
  t.match(oldest, { user_agent: 'Phone/1.0', address: '203.0.113.7', current: false })
  t.same(Object.keys(newest!).sort(), ['address', 'created_at', 'current', 'id', 'last_used_at', 'user_agent'])
  t.equal((await listSessions(phone.access)).json().items.find((s: { current: boolean }) => s.current).user_agent, 'Phone/1.0')

  const first = await listSessions(laptop.access, '?limit=1')
  t.equal(first.json().items.length, 1)
  t.type(first.json().next_cursor, 'string')
  const second = await listSessions(laptop.access, `?limit=1&cursor=${first.json().next_cursor}`)
  t.same(second.json().items.map((s: { id: string }) => s.id), [oldest!.id], 'the next page')
  t.equal(second.json().next_cursor, null)
  t.equal((await listSessions(laptop.access, '?limit=101')).statusCode, 400, 'at most 100 a page')
  t.equal((await listSessions(laptop.access, '?cursor=bogus')).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: '/api/sessions' })).statusCode, 401, 'signed in only')
})

t.test("DELETE another user's session: 404, and the session keeps working; DELETE one of yours ends it (204)", async (t) => {
  const victim = await createTestUser(env.repos, 'Basic')
  const attacker = await createTestUser(env.repos, 'Basic')
  const victimTokens = await signIn(victim.email, victim.password)
  const attackerTokens = await signIn(attacker.email, attacker.password)
  const victimSession = (await listSessions(victimTokens.access)).json().items[0].id as string

  const foreign = await as(attackerTokens.access, { method: 'DELETE', url: `/api/sessions/${victimSession}` })
  t.equal(foreign.statusCode, 404)
  t.equal((await as(attackerTokens.access, { method: 'DELETE', url: '/api/sessions/not-a-uuid' })).statusCode, 404)
  t.equal((await as(attackerTokens.access, { method: 'DELETE', url: '/api/sessions/00000000-0000-4000-8000-000000000000' })).statusCode, 404)
  const stillWorks = await refresh(victimTokens.refresh)
  t.equal(stillWorks.statusCode, 200, "the victim's session is untouched")

  const second = await signIn(victim.email, victim.password)
  const ended = await as(second.access, { method: 'DELETE', url: `/api/sessions/${victimSession}` })
  t.equal(ended.statusCode, 204, 'the owner ends it from another device')
  t.equal((await refresh(stillWorks.json().refresh)).statusCode, 401, 'its refresh token is refused')
  t.equal((await as(second.access, { method: 'DELETE', url: `/api/sessions/${victimSession}` })).statusCode, 404, 'ended already')
})

t.test('admin sign-out everywhere: every session ends and access tokens issued before answer 401', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const phone = await signIn(user.email, user.password)
  const laptop = await signIn(user.email, user.password)

  const out = await asAdmin({ method: 'POST', url: `/api/admin/users/${user.user.id}/sign-out` })
  t.equal(out.statusCode, 200)
  t.same(out.json(), { sessions_ended: 2 })

  for (const tokens of [phone, laptop]) {
    t.equal((await as(tokens.access, { method: 'GET', url: '/api/images' })).statusCode, 401, 'access token void at once')
    t.equal((await refresh(tokens.refresh)).statusCode, 401, 'refresh token void')
  }
  const fresh = await signIn(user.email, user.password)
  t.equal((await as(fresh.access, { method: 'GET', url: '/api/images' })).statusCode, 200, 'they can sign in again')
  t.equal((await listSessions(fresh.access)).json().items.length, 1)

  t.equal((await asAdmin({ method: 'POST', url: '/api/admin/users/00000000-0000-4000-8000-000000000000/sign-out' })).statusCode, 404)
  t.equal((await as(fresh.access, { method: 'POST', url: `/api/admin/users/${user.user.id}/sign-out` })).statusCode, 403, 'admins only')
})

t.test('token answers are never cached: Cache-Control no-store and Pragma no-cache', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const obtained = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: user.email, password: user.password }, remoteAddress: nextAddress() })
  const refreshed = await refresh(obtained.json().refresh)
  const refused = await refresh('not-a-token')
  const badLogin = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: user.email, password: 'wrong' }, remoteAddress: nextAddress() })
  const loggedOut = await logout(refreshed.json().refresh)
  for (const [name, response, status] of [
    ['token', obtained, 200],
    ['refresh', refreshed, 200],
    ['refused refresh', refused, 401],
    ['bad credentials', badLogin, 401],
    ['logout', loggedOut, 200],
  ] as const) {
    t.equal(response.statusCode, status, `${name}: status`)
    t.equal(response.headers['cache-control'], 'no-store', `${name}: cache-control`)
    t.equal(response.headers.pragma, 'no-cache', `${name}: pragma`)
  }
})

t.test('the new routes are in the OpenAPI document under auth, sessions and admin', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  t.same(doc.paths['/api/token/logout/']?.post?.tags, ['auth'])
  t.same(doc.paths['/api/sessions']?.get?.tags, ['sessions'])
  t.same(doc.paths['/api/sessions/{id}']?.delete?.tags, ['sessions'])
  t.same(doc.paths['/api/admin/users/{id}/sign-out']?.post?.tags, ['admin'])
  t.ok(doc.paths['/api/token/refresh/']?.post?.responses?.['200']?.content?.['application/json']?.schema?.properties?.refresh, 'refresh documents the rotated token')
})
