import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { createRedis } from '@imageapi/queue'
import { createTestEnvironment, createTestUser, jpegImage, multipartBody, type TestUser } from '@imageapi/testkit'
import type { FastifyInstance } from 'fastify'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// The limiter (plugins/app/rate-limits.ts) runs on rate-limiter-flexible over Redis: its windows run on
// Redis's clock (key TTLs) and open at a key's first request, so the injected clock does not move
// them; the boundary test below uses a real 2 s window and real waiting. Every test counts under
// addresses (and users) of its own, so no two share a counter.
const env = await createTestEnvironment(t)
const redis = createRedis(env.redisUrl)
t.teardown(() => redis.disconnect())

const key = (name: string, id: string) => `${env.queuePrefix}:rate:${name}:${id}`
async function counter(name: string, id: string): Promise<number | null> {
  const value = await redis.get(key(name, id))
  return value === null ? null : Number(value)
}

async function imageRows(owner: TestUser): Promise<number> {
  return (await env.repos.images.listByOwner(owner.user.id, { limit: 100 })).images.length
}

const photo = await jpegImage(64, 48)
const form = (fields: Record<string, string> = {}) => multipartBody({ ...fields, image: { filename: 'photo.jpg', data: photo } })

function loginAttempt(app: FastifyInstance, email: string, password: string, remoteAddress: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/api/token/', remoteAddress, headers, payload: { email, password } })
}

t.test('a burst across a window boundary (real 2 s window): limit + 5 requests get at most the limit through, and every 429 has Retry-After', async (t) => {
  // refresh-ip: 4 per 2 s, so also at most 2 per 1 s; a fixed window would let 3 + 4 through here
  const { app } = await buildTestGateway(t, { RATE_LIMIT_WINDOW_SECONDS: '2', REFRESH_RATE_LIMIT_PER_IP: '4', REFRESH_RATE_LIMIT_PER_USER: '0' }, { env })
  const address = '10.0.1.1'
  const refresh = () => app.inject({ method: 'POST', url: '/api/token/refresh/', remoteAddress: address, payload: { refresh: 'not-a-token' } })
  t.equal((await refresh()).statusCode, 401, 'the first request opens the windows (and is counted)')
  await sleep(1_750)
  // the attacker's best timing: the end of the window, then the start of the next
  const before = [await refresh(), await refresh(), await refresh(), await refresh()]
  await sleep(Math.max(0, 2_150 - 1_750 - 50))
  const after = [await refresh(), await refresh(), await refresh(), await refresh(), await refresh()]
  const burst = [...before, ...after]
  const accepted = burst.filter((r) => r.statusCode !== 429).length
  t.ok(accepted <= 4, `limit + 5 = 9 requests within ~0.5 s across the boundary: ${accepted} accepted, at most the limit (4)`)
  t.ok(accepted >= 1, 'the limit still lets some through')
  for (const refused of burst.filter((r) => r.statusCode === 429)) {
    t.match(refused.headers['retry-after'], /^[1-9]\d*$/, 'Retry-After on every 429')
    t.match(refused.json().message, /too many requests \(refresh-ip\)/)
  }
})

t.test('login: the victim logs in from another address while an attacker hammers bad passwords for the same email', async (t) => {
  const { app } = await buildTestGateway(t, { LOGIN_RATE_LIMIT_PER_EMAIL: '5', LOGIN_RATE_LIMIT_PER_IP: '1000', LOGIN_SLOWDOWN_AFTER: '0' }, { env })
  const victim = await createTestUser(env.repos, 'Basic')
  const attacker = '10.0.2.1'
  const statuses: number[] = []
  for (let i = 0; i < 25; i++) statuses.push((await loginAttempt(app, victim.email, `wrong ${i}`, attacker)).statusCode)
  t.same(statuses, [...Array(5).fill(401), ...Array(20).fill(429)], 'the attacker: 5 failures, then blocked')
  t.equal(await counter('login-ip-email', `${attacker}|${victim.email}`), 5, 'refused attempts are not counted as failures')

  const right = await loginAttempt(app, victim.email, victim.password, '10.0.2.2')
  t.equal(right.statusCode, 200, 'the right password from another address is not blocked')
  t.ok(right.json().access, 'and gets its tokens')

  // while the attacker keeps going, in parallel
  const [hammer, victimAgain] = await Promise.all([
    Promise.all(Array.from({ length: 10 }, (_, i) => loginAttempt(app, victim.email.toUpperCase(), `again ${i}`, attacker))),
    loginAttempt(app, ` ${victim.email} `, victim.password, '10.0.2.2'),
  ])
  t.equal(victimAgain.statusCode, 200, 'the victim during the attack')
  t.ok(hammer.every((r) => r.statusCode === 429 && r.headers['retry-after']), 'the attacker (any spelling of the email) stays blocked, with Retry-After')
  const fromAttacker = await loginAttempt(app, victim.email, victim.password, attacker)
  t.equal(fromAttacker.statusCode, 429, 'the blocked (address, email) pair waits out its window, even with the right password')
  t.match(fromAttacker.json().message, /too many requests \(login-email\)/)
})

t.test('login: parallel guesses cannot overrun the limit (each reserves its point before the password check)', async (t) => {
  const { app } = await buildTestGateway(t, { LOGIN_RATE_LIMIT_PER_EMAIL: '4', LOGIN_RATE_LIMIT_PER_IP: '1000', LOGIN_SLOWDOWN_AFTER: '0' }, { env })
  const user = await createTestUser(env.repos, 'Basic')
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => loginAttempt(app, user.email, `guess ${i}`, '10.0.3.1')))
  t.equal(answers.filter((r) => r.statusCode === 401).length, 4, 'exactly the limit reached the password check')
  t.equal(answers.filter((r) => r.statusCode === 429).length, 16)
})

t.test('login: consecutive failures slow down (Retry-After 1, 2, 4 s) before the hard block; the victim elsewhere is never slowed', async (t) => {
  const { app } = await buildTestGateway(
    t,
    { LOGIN_RATE_LIMIT_PER_EMAIL: '8', LOGIN_RATE_LIMIT_PER_IP: '1000', LOGIN_SLOWDOWN_AFTER: '5', LOGIN_FAILURE_WINDOW_SECONDS: '120' },
    { env },
  )
  const victim = await createTestUser(env.repos, 'Basic')
  const attacker = '10.0.4.1'
  const attempt = () => loginAttempt(app, victim.email, 'wrong', attacker)
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await attempt()).statusCode)
  t.same(statuses, [401, 401, 401, 401, 401], 'five failures at full speed')

  const waits: string[] = []
  for (let failure = 6; failure <= 8; failure++) {
    const slowed = await attempt()
    t.equal(slowed.statusCode, 429, `before failure ${failure}: slowed`)
    t.match(slowed.json().message, /too many requests \(login-delay\)/)
    waits.push(String(slowed.headers['retry-after']))
    t.equal((await loginAttempt(app, victim.email, victim.password, '10.0.4.2')).statusCode, 200, 'meanwhile the victim, from another address, logs in')
    await sleep(Number(slowed.headers['retry-after']) * 1000 + 100)
    t.equal((await attempt()).statusCode, 401, `after waiting, failure ${failure} reaches the password check`)
  }
  t.same(waits, ['1', '2', '4'], 'Retry-After grows: 1, 2, 4 s')

  const blocked = await attempt()
  t.equal(blocked.statusCode, 429, 'at the limit (8 failures): blocked')
  t.match(blocked.json().message, /too many requests \(login-email\)/)
  const retryAfter = Number(blocked.headers['retry-after'])
  t.ok(retryAfter > 100 && retryAfter <= 120, `blocked for the rest of the failure window (${retryAfter} s)`)
})

t.test('login: a success clears the (address, email) failures; only failures count', async (t) => {
  const { app } = await buildTestGateway(t, { LOGIN_RATE_LIMIT_PER_EMAIL: '3', LOGIN_RATE_LIMIT_PER_IP: '1000', LOGIN_SLOWDOWN_AFTER: '0' }, { env })
  const user = await createTestUser(env.repos, 'Basic')
  const address = '10.0.5.1'
  for (let i = 0; i < 2; i++) t.equal((await loginAttempt(app, user.email, 'wrong', address)).statusCode, 401)
  t.equal(await counter('login-ip-email', `${address}|${user.email}`), 2)
  t.equal((await loginAttempt(app, user.email, user.password, address)).statusCode, 200)
  t.equal(await counter('login-ip-email', `${address}|${user.email}`), null, 'cleared by the success')
  t.equal(await counter('login-ip', address), 2, 'the address keeps its failures, not the success')
  for (let i = 0; i < 5; i++) t.equal((await loginAttempt(app, user.email, user.password, address)).statusCode, 200, 'successes are never limited')
  const missing = await app.inject({ method: 'POST', url: '/api/token/', remoteAddress: address, payload: { email: user.email } })
  t.equal(missing.statusCode, 400, 'DRF field errors as before')
  t.same(missing.json(), { password: ['This field is required.'] })
  t.equal(await counter('login-ip', address), 2, 'a 400 is not a failure')
})

t.test('per-address login failures: counted whatever the email, another address has its own count, X-Forwarded-For is not trusted without TRUST_PROXY', async (t) => {
  const { app } = await buildTestGateway(t, { LOGIN_RATE_LIMIT_PER_IP: '2', LOGIN_RATE_LIMIT_PER_EMAIL: '0' }, { env })
  const statuses = []
  for (const email of ['a@example.com', 'b@example.com', 'c@example.com']) statuses.push((await loginAttempt(app, email, 'wrong', '10.0.6.1')).statusCode)
  t.same(statuses, [401, 401, 429], 'three emails from one address: the third is refused')
  const spoofed = await loginAttempt(app, 'd@example.com', 'wrong', '10.0.6.1', { 'x-forwarded-for': '203.0.113.9' })
  t.equal(spoofed.statusCode, 429, 'a forwarded-for header does not make a new address (TRUST_PROXY is off)')
  t.match(spoofed.headers['retry-after'], /^\d+$/)
  t.match(spoofed.json().message, /too many requests \(login-ip\)/)
  t.equal((await loginAttempt(app, 'a@example.com', 'wrong', '10.0.6.2')).statusCode, 401, 'another address is not limited')
  t.equal(await counter('login-ip', '10.0.6.1'), 2, 'refused attempts are not failures')
  t.equal(await counter('login-ip', '10.0.6.2'), 1)
  t.equal(await counter('login-ip', '203.0.113.9'), null, 'nothing counted under the forwarded address')
})

t.test('behind a trusted proxy (TRUST_PROXY=true) the address is the forwarded one', async (t) => {
  const { app } = await buildTestGateway(t, { TRUST_PROXY: 'true', LOGIN_RATE_LIMIT_PER_IP: '1', LOGIN_RATE_LIMIT_PER_EMAIL: '0' }, { env })
  const attempt = (forwardedFor: string) => loginAttempt(app, 'x@example.com', 'wrong', '10.0.7.1', { 'x-forwarded-for': forwardedFor })
  t.equal((await attempt('198.51.100.1')).statusCode, 401)
  t.equal((await attempt('198.51.100.1')).statusCode, 429, 'the same client through the proxy: limited')
  t.equal((await attempt('198.51.100.2')).statusCode, 401, 'another client through the same proxy: its own count')
  t.equal(await counter('login-ip', '198.51.100.1'), 1)
  t.equal(await counter('login-ip', '198.51.100.2'), 1)
})

t.test('refresh and logout still work from an address whose login budget is spent; refresh has a per-user limit of its own', async (t) => {
  const { app } = await buildTestGateway(t, { LOGIN_RATE_LIMIT_PER_IP: '2', LOGIN_RATE_LIMIT_PER_EMAIL: '0', REFRESH_RATE_LIMIT_PER_USER: '4' }, { env })
  const user = await createTestUser(env.repos, 'Basic')
  const address = '10.0.8.1'
  const signedIn = await loginAttempt(app, user.email, user.password, address)
  t.equal(signedIn.statusCode, 200)
  for (const email of ['p@example.com', 'q@example.com']) t.equal((await loginAttempt(app, email, 'wrong', address)).statusCode, 401)
  t.equal((await loginAttempt(app, user.email, user.password, address)).statusCode, 429, 'the address has spent its login failures')

  let refresh = (signedIn.json() as { refresh: string }).refresh
  const refreshFrom = (remoteAddress: string) => app.inject({ method: 'POST', url: '/api/token/refresh/', remoteAddress, payload: { refresh } })
  const first = await refreshFrom(address)
  t.equal(first.statusCode, 200, 'refresh from that address: its own budget (refresh-ip)')
  refresh = first.json().refresh
  const second = await refreshFrom(address)
  t.equal(second.statusCode, 200)
  refresh = second.json().refresh
  // per user: 4 per window, so 2 per half window (the burst bound); another address does not help
  const third = await refreshFrom('10.0.8.2')
  t.equal(third.statusCode, 429, 'a third refresh of the same user within half a window, even from another address')
  t.match(third.json().message, /too many requests \(refresh-user\)/)
  t.ok(third.headers['retry-after'])
  const stranger = await app.inject({ method: 'POST', url: '/api/token/refresh/', remoteAddress: address, payload: { refresh: 'forged' } })
  t.equal(stranger.statusCode, 401, 'a token that does not verify is counted for no user')

  const other = await createTestUser(env.repos, 'Basic')
  const otherTokens = await login(app, other.email, other.password)
  const loggedOut = await app.inject({ method: 'POST', url: '/api/token/logout/', remoteAddress: address, payload: { refresh: otherTokens.refresh } })
  t.equal(loggedOut.statusCode, 200, 'logout from the address whose login budget is spent')
})

t.test('native POST /api/images and compat POST /api/upload/small/ share the per-user upload counter; past it both answer 429 with Retry-After', async (t) => {
  // no worker here: a compat upload is stored, then answers 503 "still processing" at once (wait 0)
  const { app } = await buildTestGateway(t, { UPLOAD_RATE_LIMIT_PER_USER: '4', UPLOAD_RATE_LIMIT_PER_IP: '0', COMPAT_UPLOAD_WAIT_MS: '0' }, { env })
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
  const accepted = [await native(), await compat()]
  t.same(accepted.map((r) => r.statusCode), [201, 503], 'native, compat (stored, thumbnail still pending): 2, the burst bound of a limit of 4')
  t.equal(await imageRows(user), 2)
  for (const [route, response] of [['compat', await compat()], ['native', await native()]] as const) {
    t.equal(response.statusCode, 429, `${route}: refused`)
    const retryAfter = Number(response.headers['retry-after'])
    t.ok(retryAfter >= 1 && retryAfter <= 30, `${route}: Retry-After within the half window (${retryAfter})`)
    t.match(response.json().message, /too many requests \(upload-user\): at most 2 per 30 s and 4 per 60 s/, route)
  }
  t.equal(await imageRows(user), 2, 'the refused uploads stored nothing')
  t.equal(await counter('upload-user', user.user.id), 2, 'one counter for both routes')
})

t.test('uploads per address: the address is spent for every account on it', async (t) => {
  const { app } = await buildTestGateway(t, { UPLOAD_RATE_LIMIT_PER_IP: '4', UPLOAD_RATE_LIMIT_PER_USER: '100' }, { env })
  const [first, second] = [await createTestUser(env.repos, 'Premium'), await createTestUser(env.repos, 'Premium')]
  const tokens = [(await login(app, first.email, first.password)).access, (await login(app, second.email, second.password)).access]
  const upload = (token: string, remoteAddress: string) => {
    const { body, headers } = form()
    return app.inject({ method: 'POST', url: '/api/images', remoteAddress, payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })
  }
  t.same([(await upload(tokens[0]!, '10.0.9.1')).statusCode, (await upload(tokens[0]!, '10.0.9.1')).statusCode], [201, 201])
  const refused = await upload(tokens[1]!, '10.0.9.1')
  t.equal(refused.statusCode, 429, 'a second account on the same address: refused, though it uploaded nothing')
  t.match(refused.json().message, /too many requests \(upload-ip\)/)
  t.equal((await upload(tokens[1]!, '10.0.9.2')).statusCode, 201, 'the same account from another address goes through')
  t.equal(await imageRows(second), 1)
})

t.test('expiring link creation is limited per user and per address', async (t) => {
  const { app } = await buildTestGateway(t, { LINK_RATE_LIMIT_PER_USER: '4', LINK_RATE_LIMIT_PER_IP: '1000' }, { env })
  const user = await createTestUser(env.repos, 'Enterprise')
  const token = (await login(app, user.email, user.password)).access
  const { body, headers } = form()
  const image = await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })
  t.equal(image.statusCode, 201)
  const id = image.json().id as string
  const create = (remoteAddress: string) =>
    app.inject({ method: 'POST', url: `/api/images/${id}/links`, remoteAddress, payload: { seconds: 300, variant: 'original' }, headers: { authorization: `Bearer ${token}` } })
  t.same([(await create('10.0.10.1')).statusCode, (await create('10.0.10.1')).statusCode], [201, 201])
  const refused = await create('10.0.10.2')
  t.equal(refused.statusCode, 429, 'the user, from any address')
  t.match(refused.json().message, /too many requests \(link-user\)/)
  t.ok(Number(refused.headers['retry-after']) >= 1)

  const perAddress = await buildTestGateway(t, { LINK_RATE_LIMIT_PER_USER: '0', LINK_RATE_LIMIT_PER_IP: '2' }, { env })
  const again = (await login(perAddress.app, user.email, user.password)).access
  const createThere = (remoteAddress: string) =>
    perAddress.app.inject({ method: 'POST', url: `/api/images/${id}/links`, remoteAddress, payload: { seconds: 300, variant: 'original' }, headers: { authorization: `Bearer ${again}` } })
  t.same([(await createThere('10.0.10.3')).statusCode, (await createThere('10.0.10.3')).statusCode], [201, 429], 'a limit of 2 per address: 1 per half window')
  t.equal((await createThere('10.0.10.4')).statusCode, 201, 'another address')
})

t.test('Redis down: the limiter fails open, the right password logs in and uploads are accepted', async (t) => {
  // the limiter's Redis is unreachable (port 1); the thumbnail queue keeps its own
  const { app } = await buildTestGateway(t, { RATE_LIMIT_REDIS_URL: 'redis://127.0.0.1:1', LOGIN_RATE_LIMIT_PER_EMAIL: '1', LOGIN_RATE_LIMIT_PER_IP: '1', UPLOAD_RATE_LIMIT_PER_USER: '1' }, { env })
  const user = await createTestUser(env.repos, 'Premium')
  for (let i = 0; i < 3; i++) t.equal((await loginAttempt(app, user.email, 'wrong', '10.0.11.1')).statusCode, 401, 'no limit without Redis: failures answer 401')
  const signedIn = await loginAttempt(app, user.email, user.password, '10.0.11.1')
  t.equal(signedIn.statusCode, 200, 'the right password logs in')
  const token = signedIn.json().access as string
  for (let i = 0; i < 2; i++) {
    const { body, headers } = form()
    const uploaded = await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })
    t.equal(uploaded.statusCode, 201, 'the upload is accepted')
  }
})
