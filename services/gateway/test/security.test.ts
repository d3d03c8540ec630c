import t from 'tap'
import { createTestUser, jpegImage, listObjectKeys, multipartBody } from '@imageapi/testkit'
import { buildApp } from '../src/app.js'
import { loadGatewayConfig } from '../src/config.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

const limits = { LOGIN_RATE_LIMIT_PER_EMAIL: '3', LOGIN_RATE_LIMIT_PER_IP: '1000', UPLOAD_RATE_LIMIT_PER_USER: '2' }
// The limiter counts in fixed windows of RATE_LIMIT_WINDOW_SECONDS (60) read from the app's clock:
// held 10 s into a window, so a run that crosses a minute of the wall clock counts in one window.
// (rate-limits.test.ts crosses a boundary on purpose.)
const clock = () => Date.parse('2031-03-04T05:06:10.000Z')
const { app, env } = await buildTestGateway(t, limits, { clock })

t.test('security headers on API responses and on the docs', async (t) => {
  for (const url of ['/api/images', '/docs/']) {
    const response = await app.inject(url)
    t.equal(response.headers['x-content-type-options'], 'nosniff', url)
    t.ok(response.headers['content-security-policy'], url)
    t.ok(response.headers['strict-transport-security'], url)
  }
})

t.test('CORS is off by default and on for configured origins only', async (t) => {
  const preflight = { method: 'OPTIONS' as const, url: '/api/images', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } }
  t.notOk((await app.inject(preflight)).headers['access-control-allow-origin'])
  const withCors = await buildTestGateway(t, { CORS_ORIGINS: 'https://app.example.com' })
  t.equal((await withCors.app.inject(preflight)).headers['access-control-allow-origin'], 'https://app.example.com')
  const other = await withCors.app.inject({ ...preflight, headers: { ...preflight.headers, origin: 'https://evil.example' } })
  t.notOk(other.headers['access-control-allow-origin'])
})

t.test('logins for one email are limited: 429 with Retry-After, counted in Redis across replicas', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const replica = await buildApp({ config: loadGatewayConfig({ ...env.env, ...limits, LOG_LEVEL: 'silent' }), storage: env.storage, clock })
  t.teardown(() => replica.close())
  const attempt = (target: typeof app) => target.inject({ method: 'POST', url: '/api/token/', payload: { email: user.email, password: 'wrong' } })
  t.equal((await attempt(app)).statusCode, 401)
  t.equal((await attempt(replica)).statusCode, 401)
  t.equal((await attempt(app)).statusCode, 401)
  const limited = await attempt(replica)
  t.equal(limited.statusCode, 429, 'the fourth attempt, on the other replica')
  t.equal(limited.headers['retry-after'], '50', 'the rest of the window: 60 s less the 10 s gone')
  t.match(limited.json().message, /too many requests/)
  const right = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: user.email, password: user.password } })
  t.equal(right.statusCode, 429, 'even the right password waits out the window')
})

t.test('uploads per user are limited and a refused upload stores nothing', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const token = (await login(app, user.email, user.password)).access
  const data = await jpegImage(50, 40)
  const statuses = []
  for (let i = 0; i < 3; i++) {
    const { body, headers } = multipartBody({ image: { filename: 'x.jpg', data } })
    statuses.push((await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })).statusCode)
  }
  t.same(statuses, [201, 201, 429])
  t.equal((await env.database.db.selectFrom('images').select('id').execute()).length, 2, 'two rows')
  t.equal((await listObjectKeys(env.storage)).length, 2)
})
