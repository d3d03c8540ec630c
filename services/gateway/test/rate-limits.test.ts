import t from 'tap'
import { request as httpRequest } from 'node:http'
import { createRedis } from '@imageapi/queue'
import { createTestEnvironment, createTestUser, jpegImage, multipartBody, type TestUser } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// The limiter (plugins/app/rate-limits.ts) counts in fixed windows of RATE_LIMIT_WINDOW_SECONDS read
// from the gateway's injected clock, so each test here puts its requests in a window of its own,
// far from the wall clock, and moves across a boundary only when it means to. Redis still expires
// the counters on its own (real) time, window + 1 s after the last request: every test is far shorter.
const WINDOW_MS = 60_000
const env = await createTestEnvironment(t)
const redis = createRedis(env.redisUrl)
t.teardown(() => redis.disconnect())

/** The start of a window (a UTC minute) of its own for each test, so no two tests share a counter. */
const windowStart = (minute: number) => Date.parse('2031-01-01T00:00:00.000Z') + minute * WINDOW_MS

/** What the limiter holds for one limit, key and window: the count of requests, refused ones included. */
async function counter(name: string, key: string, atMs: number): Promise<number | null> {
  const value = await redis.get(`${env.queuePrefix}:rate:${name}:${key}:${Math.floor(atMs / WINDOW_MS)}`)
  return value === null ? null : Number(value)
}

async function imageRows(owner: TestUser): Promise<number> {
  return (await env.repos.images.listByOwner(owner.user.id, { limit: 100 })).images.length
}

/** One request over real HTTP, from the given local address (any 127/8 address is this host's). */
function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; localAddress?: string }) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const request = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, localAddress: options.localAddress ?? '127.0.0.1', agent: false })
    request.on('error', reject)
    request.on('response', (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString() }))
      response.on('error', reject)
    })
    request.end(options.body)
  })
}

const photo = await jpegImage(64, 48)
const form = (fields: Record<string, string> = {}) => multipartBody({ ...fields, image: { filename: 'photo.jpg', data: photo } })

t.test('a window boundary, crossed with the injected clock: the count starts again at 0, so twice the limit passes within 2 s; Retry-After counts down to the boundary', async (t) => {
  const start = windowStart(0)
  let now = start + 58_000
  const { app } = await buildTestGateway(t, { LOGIN_RATE_LIMIT_PER_EMAIL: '2', LOGIN_RATE_LIMIT_PER_IP: '0', RATE_LIMIT_WINDOW_SECONDS: '60' }, { env, clock: () => now })
  const user = await createTestUser(env.repos, 'Basic')
  const attempt = async () => {
    const response = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: user.email, password: 'wrong' } })
    return { status: response.statusCode, retryAfter: response.headers['retry-after'], message: (response.json() as { message?: string }).message }
  }

  // 58 s into the window: the limit (2), then refused until the boundary 2 s later
  t.same([(await attempt()).status, (await attempt()).status], [401, 401], 'the limit: two attempts reach the password check')
  const refused = await attempt()
  t.equal(refused.status, 429)
  t.equal(refused.retryAfter, '2', 'Retry-After: the seconds left in the window, not a full window')
  t.equal(refused.message, 'too many requests (login-email): at most 2 per 60 s, try again in 2 s')

  // the last millisecond of the window is still the window
  now = start + 59_999
  const last = await attempt()
  t.same([last.status, last.retryAfter], [429, '1'], 'at 59.999 s: still refused, Retry-After 1 (whole seconds left, rounded up)')
  t.equal(await counter('login-email', user.email, start), 4, 'refused attempts are counted too (they do not push the window back)')

  // the boundary: a new window, a new counter from 0; nothing carries over from the one before
  now = start + WINDOW_MS
  t.same([(await attempt()).status, (await attempt()).status], [401, 401], 'at the boundary the limit is there again in full')
  t.equal(await counter('login-email', user.email, now), 2, 'a counter of its own for the new window')
  t.equal(await counter('login-email', user.email, start), 4, 'the old window keeps its count (it expires on Redis time)')
  const next = await attempt()
  t.same([next.status, next.retryAfter], [429, '60'], 'refused again, for a whole window')
  t.ok((await redis.ttl(`${env.queuePrefix}:rate:login-email:${user.email}:${Math.floor(now / WINDOW_MS)}`)) <= 61, 'the counter lives at most a window and 1 s')
  // so in 2 s of clock (58 s .. 60 s) four attempts went through: a fixed window allows up to 2× the limit around a boundary
})

t.test('per-address limits: an address is counted whatever the account or email, another address has its own count, and X-Forwarded-For is not trusted without TRUST_PROXY', async (t) => {
  const start = windowStart(10)
  const { app } = await buildTestGateway(
    t,
    { LOGIN_RATE_LIMIT_PER_IP: '2', LOGIN_RATE_LIMIT_PER_EMAIL: '0', UPLOAD_RATE_LIMIT_PER_IP: '2', UPLOAD_RATE_LIMIT_PER_USER: '100' },
    { env, clock: () => start + 5_000 },
  )
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const attempt = (email: string, localAddress: string, headers: Record<string, string> = {}) =>
    send(`${url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ email, password: 'wrong' }), localAddress })

  t.test('logins (login-ip)', async (t) => {
    const statuses = []
    for (const email of ['a@example.com', 'b@example.com', 'c@example.com']) statuses.push((await attempt(email, '127.0.0.1')).status)
    t.same(statuses, [401, 401, 429], 'three emails from one address: the third is refused')
    const spoofed = await attempt('d@example.com', '127.0.0.1', { 'x-forwarded-for': '203.0.113.9' })
    t.equal(spoofed.status, 429, 'a forwarded-for header does not make a new address (TRUST_PROXY is off)')
    t.match(spoofed.headers['retry-after'], /^\d+$/)
    const other = await attempt('a@example.com', '127.0.0.2')
    t.equal(other.status, 401, 'another address, even with an email already tried, is not limited')
    t.equal(await counter('login-ip', '127.0.0.1', start), 4)
    t.equal(await counter('login-ip', '127.0.0.2', start), 1)
    t.equal(await counter('login-ip', '203.0.113.9', start), null, 'nothing counted under the forwarded address')
  })

  t.test('uploads (upload-ip): the address is spent for every account on it', async (t) => {
    const first = await createTestUser(env.repos, 'Premium')
    const second = await createTestUser(env.repos, 'Premium')
    // each logs in once from an address of its own: 127.0.0.1's login count was spent above
    const tokens = new Map<TestUser, string>()
    for (const [i, user] of [first, second].entries()) {
      const signedIn = await app.inject({ method: 'POST', url: '/api/token/', remoteAddress: `192.0.2.${10 + i}`, payload: { email: user.email, password: user.password } })
      tokens.set(user, (signedIn.json() as { access: string }).access)
    }
    const upload = async (user: TestUser, localAddress: string) => {
      const token = tokens.get(user)!
      const { body, headers } = form()
      return send(`${url}/api/images`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body, localAddress })
    }
    t.same([(await upload(first, '127.0.0.1')).status, (await upload(first, '127.0.0.1')).status], [201, 201])
    const refused = await upload(second, '127.0.0.1')
    t.equal(refused.status, 429, 'a second account on the same address: refused, though it uploaded nothing')
    t.match(JSON.parse(refused.body).message, /too many requests \(upload-ip\)/)
    t.equal((await upload(second, '127.0.0.2')).status, 201, 'the same account from another address goes through')
    t.equal(await imageRows(first), 2)
    t.equal(await imageRows(second), 1, 'only the upload from the other address was stored')
    t.equal(await counter('upload-ip', '127.0.0.1', start), 3)
    t.equal(await counter('upload-ip', '127.0.0.2', start), 1)
  })
})

t.test('behind a trusted proxy (TRUST_PROXY=true) the address is the forwarded one: counted per client, not per proxy', async (t) => {
  const start = windowStart(20)
  const { app } = await buildTestGateway(t, { TRUST_PROXY: 'true', LOGIN_RATE_LIMIT_PER_IP: '1', LOGIN_RATE_LIMIT_PER_EMAIL: '0' }, { env, clock: () => start })
  const attempt = (forwardedFor: string) =>
    app.inject({ method: 'POST', url: '/api/token/', headers: { 'x-forwarded-for': forwardedFor }, payload: { email: 'x@example.com', password: 'wrong' } })
  t.equal((await attempt('198.51.100.1')).statusCode, 401)
  t.equal((await attempt('198.51.100.1')).statusCode, 429, 'the same client through the proxy: limited')
  t.equal((await attempt('198.51.100.2')).statusCode, 401, 'another client through the same proxy: its own count')
  t.equal(await counter('login-ip', '198.51.100.1', start), 2)
  t.equal(await counter('login-ip', '198.51.100.2', start), 1)
})

t.test('native POST /api/images and compat POST /api/upload/small/ spend one per-user upload counter: past the limit both answer 429 with Retry-After', async (t) => {
  const start = windowStart(30)
  const now = start + 15_000
  // no worker here: a compat upload is stored, then answers 503 "still processing" at once (wait 0)
  const { app } = await buildTestGateway(t, { UPLOAD_RATE_LIMIT_PER_USER: '3', UPLOAD_RATE_LIMIT_PER_IP: '0', COMPAT_UPLOAD_WAIT_MS: '0' }, { env, clock: () => now })
  const user = await createTestUser(env.repos, 'Premium')
  const token = (await login(app, user.email, user.password)).access
  const native = async () => {
    const { body, headers } = form()
    return app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })
  }
  const compat = async () => {
    const { body, headers } = form({ title: 'compat' })
    return app.inject({ method: 'POST', url: '/api/upload/small/', payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })
  }

  const accepted = [await native(), await compat(), await native()]
  t.same(accepted.map((r) => r.statusCode), [201, 503, 201], 'native, compat (stored, thumbnail still pending), native: the limit of 3')
  t.equal(await imageRows(user), 3, 'all three were stored')

  for (const [route, response] of [['compat', await compat()], ['native', await native()]] as const) {
    t.equal(response.statusCode, 429, `${route}: refused`)
    t.equal(response.headers['retry-after'], '45', `${route}: Retry-After is the rest of the window (60 s - 15 s)`)
    t.match(response.json().message, /too many requests \(upload-user\): at most 3 per 60 s/, route)
  }
  t.equal(await imageRows(user), 3, 'the refused uploads stored nothing')
  t.equal(await counter('upload-user', user.user.id, now), 5, 'one counter for both routes: 3 accepted + 2 refused')
})
