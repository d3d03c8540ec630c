import t from 'tap'
import { createTestUser } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

const { app, env } = await buildTestGateway(t)
const basic = await createTestUser(env.repos, 'Basic')

const NOT_PROVIDED = { detail: 'Authentication credentials were not provided.' }
const NOT_VALID = {
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }],
}

function listWith(authorization?: string) {
  return app.inject({ method: 'GET', url: '/api/images', headers: authorization ? { authorization } : {} })
}

t.test('good credentials give an access and a refresh token', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: basic.email.toUpperCase(), password: basic.password } })
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.same(Object.keys(body).sort(), ['access', 'refresh'])
  t.equal((await listWith(`Bearer ${body.access}`)).statusCode, 200)
})

t.test('bad credentials: 401 with the same body for a wrong password and an unknown email', async (t) => {
  const expected = { detail: 'No active account found with the given credentials' }
  const wrongPassword = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: basic.email, password: 'nope' } })
  const unknownEmail = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: 'nobody@example.com', password: 'nope' } })
  t.equal(wrongPassword.statusCode, 401)
  t.same(wrongPassword.json(), expected)
  t.equal(unknownEmail.statusCode, 401)
  t.same(unknownEmail.json(), expected)
})

t.test('missing fields: 400 keyed by field', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/token/', payload: {} })
  t.equal(response.statusCode, 400)
  t.same(response.json(), { email: ['This field is required.'], password: ['This field is required.'] })
})

t.test('refresh gives a new access token; tokens are not interchangeable', async (t) => {
  const { access, refresh } = await login(app, basic.email, basic.password)
  const refreshed = await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh } })
  t.equal(refreshed.statusCode, 200)
  t.equal((await listWith(`Bearer ${refreshed.json().access}`)).statusCode, 200)

  const accessAsRefresh = await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh: access } })
  t.equal(accessAsRefresh.statusCode, 401)
  t.same(accessAsRefresh.json(), { detail: 'Token is invalid or expired', code: 'token_not_valid' })

  const refreshAsAccess = await listWith(`Bearer ${refresh}`)
  t.equal(refreshAsAccess.statusCode, 401)
  t.same(refreshAsAccess.json(), NOT_VALID)

  const garbageRefresh = await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh: 'garbage' } })
  t.equal(garbageRefresh.statusCode, 401)
})

t.test('no token, garbage, expired, alg none and foreign-secret tokens are refused with 401', async (t) => {
  const missing = await listWith()
  t.equal(missing.statusCode, 401)
  t.same(missing.json(), NOT_PROVIDED)
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="api"')

  const garbage = await listWith('Bearer not.a.token')
  t.equal(garbage.statusCode, 401)
  t.same(garbage.json(), NOT_VALID)

  const expired = app.jwt.sign({ sub: basic.user.id, typ: 'access', exp: Math.floor(Date.now() / 1000) - 5 } as never)
  t.same((await listWith(`Bearer ${expired}`)).json(), NOT_VALID)

  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: basic.user.id, typ: 'access', exp: Math.floor(Date.now() / 1000) + 600 })}.`
  t.equal((await listWith(`Bearer ${algNone}`)).statusCode, 401)

  const { createSigner } = await import('fast-jwt')
  const foreign = createSigner({ key: 'another-secret-another-secret-another-secret', algorithm: 'HS256' })({ sub: basic.user.id, typ: 'access' })
  t.equal((await listWith(`Bearer ${foreign}`)).statusCode, 401)
})

t.test('a deactivated user is refused, with tokens issued before', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const { access, refresh } = await login(app, user.email, user.password)
  await env.repos.users.setActive(user.user.id, false)
  const listed = await listWith(`Bearer ${access}`)
  t.equal(listed.statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh } })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/api/token/', payload: { email: user.email, password: user.password } })).statusCode, 401)
})
