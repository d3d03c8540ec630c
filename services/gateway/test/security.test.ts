import t from 'tap'
import { createTestUser, jpegImage, listObjectKeys, multipartBody } from '@imageapi/testkit'
import { buildApp } from '../src/app.js'
import { loadGatewayConfig } from '../src/config.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

const limits = { LOGIN_RATE_LIMIT_PER_EMAIL: '3', LOGIN_RATE_LIMIT_PER_IP: '1000', UPLOAD_RATE_LIMIT_PER_USER: '4' }
// The limits (rate-limiter-flexible over Redis) run on Redis's clock, not on this injected clock:
// every request here falls well inside its first window. (rate-limits.test.ts crosses a boundary.)
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

t.test('failed logins for one email from one address are limited across replicas: 429 with Retry-After; the right password from another address still logs in', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const replica = await buildApp({ config: loadGatewayConfig({ ...env.env, ...limits, LOG_LEVEL: 'silent' }), storage: env.storage, clock })
  t.teardown(() => replica.close())
  const attacker = '203.0.113.50'
  const attempt = (target: typeof app) => target.inject({ method: 'POST', url: '/api/token/', remoteAddress: attacker, payload: { email: user.email, password: 'wrong' } })
  t.equal((await attempt(app)).statusCode, 401)
  t.equal((await attempt(replica)).statusCode, 401)
  t.equal((await attempt(app)).statusCode, 401)
  const limited = await attempt(replica)
  t.equal(limited.statusCode, 429, 'the fourth attempt, on the other replica')
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter > 890 && retryAfter <= 900, `Retry-After: the rest of the failure window (LOGIN_FAILURE_WINDOW_SECONDS, 900 s): ${retryAfter}`)
  t.match(limited.json().message, /too many requests \(login-email\)/)
  const right = await app.inject({ method: 'POST', url: '/api/token/', remoteAddress: '203.0.113.51', payload: { email: user.email, password: user.password } })
  t.equal(right.statusCode, 200, 'the right password from another address is not locked out')
  const fromAttacker = await replica.inject({ method: 'POST', url: '/api/token/', remoteAddress: attacker, payload: { email: user.email, password: user.password } })
  t.equal(fromAttacker.statusCode, 429, 'the blocked (address, email) pair waits, on every replica')
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
  t.same(statuses, [201, 201, 429], 'a limit of 4 per window takes at most 2 per half window')
  t.equal((await env.database.db.selectFrom('images').select('id').execute()).length, 2, 'two rows')
  t.equal((await listObjectKeys(env.storage)).length, 2)
})
