import t from 'tap'
import { createThumbnailQueue } from '@imageapi/queue'
import { createTestEnvironment, createTestUser, jpegImage, startRedisServer, startService, startTcpProxy, waitFor } from '@imageapi/testkit'

/** Files a thumbnail is stored as by default: its source format and WebP (AVIF is off by default). */
const FILES_PER_THUMBNAIL = 2

// The gateway reaches a Redis of this test's own through a TCP proxy, so Redis can become unreachable
// (every connection cut, new ones refused) while it keeps its data, and come back. The test looks at
// the queue directly, past the proxy, to see what was and was not queued.
const env = await createTestEnvironment(t)
const redis = await startRedisServer(t)
const proxy = await startTcpProxy(t, { host: '127.0.0.1', port: redis.port })
const viaProxy = `redis://127.0.0.1:${proxy.port}`
const services = { ...env.env, REDIS_URL: viaProxy, RECONCILE_AFTER_SECONDS: '1', RECONCILE_INTERVAL_SECONDS: '1' }
const queue = createThumbnailQueue({ redisUrl: redis.url, prefix: env.queuePrefix })
t.teardown(() => queue.close())

const gateway = await startService(t, 'gateway', services)
const owner = await createTestUser(env.repos, 'Premium') // thumbnails 200 and 400 px high
const signedIn = await fetch(`${gateway.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: owner.email, password: owner.password }) })
const { access } = (await signedIn.json()) as { access: string }

async function jobCount(): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed')
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

async function readyz(): Promise<{ status: number; body: { status: string; message?: string; checks: Record<string, string> } }> {
  const response = await fetch(`${gateway.url}/readyz`)
  return { status: response.status, body: (await response.json()) as { status: string; message?: string; checks: Record<string, string> } }
}

t.test('Redis unreachable during uploads: 201 with pending thumbnails, the rows in Postgres, nothing queued, /readyz names redis; once Redis is back the reconciler queues them and every thumbnail is made', async (t) => {
  t.same((await readyz()).body.checks, { postgres: 'ok', redis: 'ok', storage: 'ok' }, 'ready before the outage')
  proxy.cut()

  const notReady = await waitFor(async () => {
    const probe = await readyz()
    return probe.status === 503 ? probe : undefined
  }, { what: '/readyz to see Redis gone', timeoutMs: 20_000 })
  t.equal(notReady.body.status, 'unavailable')
  t.same(notReady.body.checks, { postgres: 'ok', redis: 'down', storage: 'ok' }, 'only redis is down')
  t.match(notReady.body.message, /^not ready: redis \(/, 'the message names redis (and why)')

  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const form = new FormData()
    form.set('title', `while Redis is down ${i}`)
    form.set('image', new Blob([await jpegImage(640, 480)]), 'photo.jpg')
    const started = Date.now()
    const response = await fetch(`${gateway.url}/api/images`, { method: 'POST', headers: { authorization: `Bearer ${access}` }, body: form })
    const body = (await response.json()) as { id: string; title: string; thumbnails: Array<{ height: number; status: string }> }
    t.equal(response.status, 201, `upload ${i}: accepted (${Date.now() - started} ms)`)
    t.equal(response.headers.get('location'), `/api/images/${body.id}`)
    t.equal(body.title, `while Redis is down ${i}`)
    t.same(body.thumbnails.map((x) => [x.height, x.status]), [[200, 'pending'], [400, 'pending']], 'thumbnails owed, pending')
    ids.push(body.id)
  }

  for (const id of ids) {
    const image = await env.repos.images.findByOwner(id, owner.user.id)
    t.ok(image, `row of ${id} in Postgres`)
    t.same(image!.thumbnails.map((x) => [x.height, x.status]), [[200, 'pending'], [400, 'pending']], 'pending thumbnail rows in Postgres')
  }
  t.equal((await env.storage.listKeys('originals/')).length, 3, 'the originals are stored')
  t.equal(await jobCount(), 0, 'nothing reached the queue')
  t.same(await env.storage.listKeys('thumbnails/'), [], 'no thumbnail made')
  t.equal((await readyz()).status, 503, 'still not ready while Redis is away')

  // Redis is back (with its data: it never stopped). The gateway does not queue what it owes; the worker's reconciler does.
  proxy.restore()
  const ready = await waitFor(async () => {
    const probe = await readyz()
    return probe.status === 200 ? probe : undefined
  }, { what: '/readyz to see Redis back', timeoutMs: 30_000 })
  t.same(ready.body.checks, { postgres: 'ok', redis: 'ok', storage: 'ok' }, 'ready again, no restart')
  t.equal(await jobCount(), 0, 'still nothing queued before a reconciler runs')

  const worker = await startService(t, 'thumbnail-worker', services)
  await waitFor(async () => {
    for (const id of ids) {
      const image = await env.repos.images.findByOwner(id, owner.user.id)
      if (image!.thumbnails.some((x) => x.status !== 'ready')) return undefined
    }
    return true
  }, { timeoutMs: 90_000, intervalMs: 500, what: 'every thumbnail ready' })
  // nothing was queued before the worker started, and only its reconciler queues what Postgres owes
  t.pass('every thumbnail row is ready: the reconciler queued what the rows said was owed')
  await waitFor(async () => ((await jobCount()) === 0 ? true : undefined), { what: 'the queue to drain', timeoutMs: 20_000 })
  t.pass('the queue is drained: every job completed (completed jobs are removed), none failed')
  const keys = await env.storage.listKeys('thumbnails/')
  t.equal(keys.length, ids.length * 2 * FILES_PER_THUMBNAIL, 'one object per thumbnail and format')
  for (const id of ids) t.equal(keys.filter((key) => key.startsWith(`thumbnails/${id}/`)).length, 2 * FILES_PER_THUMBNAIL, `thumbnails of ${id}`)
  t.equal(await worker.stop(), 0)
})
