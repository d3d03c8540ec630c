import t from 'tap'
import { request as httpRequest } from 'node:http'
import Fastify from 'fastify'
import { createDatabase, type Database, type Kysely } from '@imageapi/db'
import { createTestEnvironment, createTestUser, jpegImage, multipartBody, startService, startTcpProxy, waitFor } from '@imageapi/testkit'
import { buildApp } from '../src/app.js'
import { loadGatewayConfig } from '../src/config.js'
import imageReadinessPlugin from '../src/plugins/app/image-readiness.js'
import { login } from './helpers/build-test-app.js'

// GET /api/images/{id}?wait=ready long-polls: it answers when no thumbnail is pending any more (woken
// by the thumbnail queue's events) or at its timeout with the current state, and reads the database
// only at the start, per wake-up and at the end. The worker runs as its own process on this file's
// environment; it is started only once the waits that must time out have been tried.

interface Shown {
  id: string
  thumbnails: Array<{ height: number; status: string; url: string | null }>
}

const env = await createTestEnvironment(t)
// every query the gateway sends to Postgres is counted (a Kysely plugin sees each one)
let queries = 0
const counter: Parameters<Kysely<Database>['withPlugin']>[0] = {
  transformQuery: (args) => {
    queries++
    return args.node
  },
  transformResult: async (args) => args.result,
}
const database = createDatabase(env.env.DATABASE_URL!)
t.teardown(() => database.destroy())
const config = loadGatewayConfig({ ...env.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', NODE_ENV: 'test' })
const app = await buildApp({ config, db: database.withPlugin(counter), storage: env.storage })
t.teardown(() => app.close())
const base = (await app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1')

const owner = await createTestUser(env.repos, 'Premium') // thumbnails 200 and 400 px high
const stranger = await createTestUser(env.repos, 'Premium')
const ownerToken = (await login(app, owner.email, owner.password)).access
const strangerToken = (await login(app, stranger.email, stranger.password)).access
const auth = (token: string) => ({ authorization: `Bearer ${token}` })

async function upload(title: string): Promise<Shown> {
  const { body, headers } = multipartBody({ title, image: { filename: 'x.jpg', data: await jpegImage(640, 480) } })
  const response = await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, ...auth(ownerToken) } })
  if (response.statusCode !== 201) throw new Error(response.body)
  return response.json()
}

async function timed(url: string, token = ownerToken): Promise<{ status: number; body: Shown & { message?: string; field?: string }; ms: number }> {
  const started = Date.now()
  const response = await app.inject({ method: 'GET', url, headers: auth(token) })
  return { status: response.statusCode, body: response.json(), ms: Date.now() - started }
}

const statuses = (image: Shown) => image.thumbnails.map((thumbnail) => [thumbnail.height, thumbnail.status])

// uploaded while no worker runs: its job waits in the queue
const pending = await upload('pending')

t.test('no worker: ?wait=ready&timeout=1 answers after about a second with the thumbnails pending', async (t) => {
  const { status, body, ms } = await timed(`/api/images/${pending.id}?wait=ready&timeout=1`)
  t.equal(status, 200)
  t.ok(ms >= 900, `waited ${ms} ms`)
  t.ok(ms < 5_000, `but not much longer (${ms} ms)`)
  t.same(statuses(body), [[200, 'pending'], [400, 'pending']])
  const plain = await timed(`/api/images/${pending.id}`)
  t.same(body, plain.body, 'the same JSON as a plain GET')
})

t.test('a pending wait does not query the database in a loop, and holds a waiter place only while it waits', async (t) => {
  t.equal(app.imageReadiness.waiting, 0)
  const before = queries
  const waiting = timed(`/api/images/${pending.id}?wait=ready&timeout=3`)
  await new Promise((resolve) => setTimeout(resolve, 500))
  const early = queries
  t.equal(app.imageReadiness.waiting, 1, 'one waiter')
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  t.equal(queries - early, 0, 'no query between 0.5 s and 2.5 s into the wait')
  const { body, ms } = await waiting
  t.ok(ms >= 2_900, `answered at the timeout (${ms} ms)`)
  t.same(statuses(body), [[200, 'pending'], [400, 'pending']])
  // authentication, the first read and the read at the timeout (an image read is a few short queries)
  t.ok(queries - before <= 12, `${queries - before} queries for the whole 3 s wait`)
  t.equal(app.imageReadiness.waiting, 0, 'the waiter is gone')
})

t.test('a client that goes away drops its waiter at once', async (t) => {
  const request = httpRequest(`${base}/api/images/${pending.id}?wait=ready&timeout=30`, { headers: auth(ownerToken) })
  request.on('error', () => {})
  request.end()
  await waitFor(() => app.imageReadiness.waiting === 1, { what: 'the wait to begin', timeoutMs: 5_000 })
  const before = queries
  request.destroy()
  await waitFor(() => app.imageReadiness.waiting === 0, { what: 'the waiter to be dropped', timeoutMs: 2_000, intervalMs: 20 })
  t.pass('dropped')
  t.ok(queries - before <= 4, 'no more than a last read after the client left')
})

t.test('bad wait or timeout: 400 saying what is wrong', async (t) => {
  const cases: Array<[string, RegExp, string]> = [
    ['wait=soon', /^wait must be "ready"$/, 'wait'],
    ['wait=ready&timeout=0', /^timeout must be an integer from 1 to 30$/, 'timeout'],
    ['wait=ready&timeout=31', /^timeout must be an integer from 1 to 30$/, 'timeout'],
    ['wait=ready&timeout=1.5', /^timeout must be an integer from 1 to 30$/, 'timeout'],
    ['wait=ready&timeout=soon', /^timeout must be an integer from 1 to 30$/, 'timeout'],
  ]
  for (const [query, message, field] of cases) {
    const { status, body, ms } = await timed(`/api/images/${pending.id}?${query}`)
    t.equal(status, 400, query)
    t.match(body.message, message, `${query}: ${body.message}`)
    t.equal(body.field, field)
    t.ok(ms < 1_000, 'at once')
  }
})

t.test("another user's image, or none: 404 at once, as without wait", async (t) => {
  const strangers = await timed(`/api/images/${pending.id}?wait=ready&timeout=5`, strangerToken)
  t.equal(strangers.status, 404)
  t.equal(strangers.body.message, 'image not found')
  t.ok(strangers.ms < 1_000, `at once (${strangers.ms} ms)`)
  const none = await timed(`/api/images/00000000-0000-4000-8000-000000000000?wait=ready&timeout=5`)
  t.equal(none.status, 404)
  t.ok(none.ms < 1_000, `at once (${none.ms} ms)`)
  const anonymous = await app.inject({ method: 'GET', url: `/api/images/${pending.id}?wait=ready` })
  t.equal(anonymous.statusCode, 401)
})

t.test('failed thumbnails count as done: an image with none pending answers at once', async (t) => {
  const broken = await upload('broken')
  await env.database.db.updateTable('thumbnails').set({ status: 'failed', error: 'rendering failed repeatedly' }).where('image_id', '=', broken.id).execute()
  const { status, body, ms } = await timed(`/api/images/${broken.id}?wait=ready&timeout=20`)
  t.equal(status, 200)
  t.ok(ms < 1_000, `at once (${ms} ms)`)
  t.same(statuses(body), [[200, 'failed'], [400, 'failed']])
})

t.test('with a worker: the wait answers as soon as the thumbnails are ready, well before the timeout', async (t) => {
  const before = queries
  const waiting = timed(`/api/images/${pending.id}?wait=ready&timeout=30`)
  await waitFor(() => app.imageReadiness.waiting === 1, { what: 'the wait to begin', timeoutMs: 5_000 })
  // the worker starts after the wait began: only its job's events can end the wait early
  await startService(t, 'thumbnail-worker', env.env)
  const { status, body, ms } = await waiting
  t.equal(status, 200)
  t.same(statuses(body), [[200, 'ready'], [400, 'ready']], 'every thumbnail ready')
  t.ok(body.thumbnails.every((thumbnail) => thumbnail.url), 'with links')
  t.ok(ms < 25_000, `answered in ${ms} ms, before the 30 s timeout`)
  t.ok(queries - before <= 16, `${queries - before} queries for the whole wait`)

  // a fresh upload, waited on right away
  const fresh = await upload('fresh')
  const waited = await timed(`/api/images/${fresh.id}?wait=ready&timeout=20`)
  t.equal(waited.status, 200)
  t.same(statuses(waited.body), [[200, 'ready'], [400, 'ready']])
  t.ok(waited.ms < 15_000, `answered in ${waited.ms} ms`)

  // nothing pending: at once, and the same JSON as a plain GET
  const again = await timed(`/api/images/${fresh.id}?wait=ready&timeout=20`)
  t.ok(again.ms < 1_000, `at once (${again.ms} ms)`)
  t.same(again.body, (await timed(`/api/images/${fresh.id}`)).body)
  t.equal(app.imageReadiness.waiting, 0)
})

t.test('the waiter cap: beyond it a wait answers at once with the current state', async (t) => {
  const small = Fastify({ logger: false })
  await small.register(imageReadinessPlugin, { redis: { url: env.redisUrl }, prefix: env.queuePrefix, maxWaiters: 1 })
  await small.ready()
  t.teardown(() => small.close())
  let reads = 0
  const wait = { read: async () => ++reads, pending: () => true, timeoutMs: 1_500 }
  const first = small.imageReadiness.waitUntilSettled('00000000-0000-4000-8000-000000000001', wait)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const started = Date.now()
  const second = await small.imageReadiness.waitUntilSettled('00000000-0000-4000-8000-000000000002', wait)
  t.equal(second.outcome, 'busy')
  t.ok(Date.now() - started < 500, 'at once')
  const firstDone = await first
  t.equal(firstDone.outcome, 'timeout')
  t.equal(reads, 3, 'the first wait read at its start and at its timeout; the second once')
  t.equal(small.imageReadiness.waiting, 0)
})

t.test('Redis away: a wait still ends at its timeout, and nothing crashes', async (t) => {
  const redisUrl = new URL(env.redisUrl)
  const proxy = await startTcpProxy(t, { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) })
  const cut = Fastify({ logger: false })
  await cut.register(imageReadinessPlugin, { redis: { url: `redis://127.0.0.1:${proxy.port}` }, prefix: env.queuePrefix })
  await cut.ready()
  t.teardown(() => cut.close())
  await new Promise((resolve) => setTimeout(resolve, 300))
  proxy.cut()
  const started = Date.now()
  const { outcome, state } = await cut.imageReadiness.waitUntilSettled('00000000-0000-4000-8000-000000000003', { read: async () => 'pending', pending: () => true, timeoutMs: 1_000 })
  const ms = Date.now() - started
  t.equal(outcome, 'timeout')
  t.equal(state, 'pending')
  t.ok(ms >= 900 && ms < 3_000, `ended at the timeout (${ms} ms)`)
  proxy.restore()
})
