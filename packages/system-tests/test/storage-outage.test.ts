import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createThumbnailQueue, enqueueThumbnails } from '@imageapi/queue'
import { createTestEnvironment, createTestUser, jpegImage, startService, startTcpProxy, waitFor } from '@imageapi/testkit'

// The services reach the run's radosgw through a TCP proxy of this test's own, so storage can go
// away (every connection cut, new ones refused) and come back without touching the shared store.
const env = await createTestEnvironment(t)
const target = new URL(env.s3.endPoint)
const proxy = await startTcpProxy(t, { host: target.hostname, port: Number(target.port) })
const endPoint = `http://127.0.0.1:${proxy.port}`
const storage = env.storage
const services = { ...env.env, S3_ENDPOINT: endPoint, RECONCILE_AFTER_SECONDS: '2', RECONCILE_INTERVAL_SECONDS: '1' }
const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
t.teardown(() => queue.close())

const gateway = await startService(t, 'gateway', services)
const user = await createTestUser(env.repos, 'Premium')
const login = await fetch(`${gateway.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: user.password }) })
const { access } = (await login.json()) as { access: string }

async function upload(): Promise<Response> {
  const form = new FormData()
  form.set('image', new Blob([await jpegImage(200, 150)]), 'photo.jpg')
  return fetch(`${gateway.url}/api/images`, { method: 'POST', headers: { authorization: `Bearer ${access}` }, body: form })
}

async function jobCount(): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

t.test('storage unreachable during an upload: 503 JSON, and no row, no job', async (t) => {
  proxy.cut()
  const response = await upload()
  t.equal(response.status, 503)
  t.match(response.headers.get('content-type'), /application\/json/)
  t.match(((await response.json()) as { message: string }).message, /temporarily unavailable/)
  t.equal(response.headers.get('retry-after'), '5')
  t.equal((await env.repos.images.listByOwner(user.user.id, { limit: 10 })).images.length, 0, 'no row')
  t.equal(await jobCount(), 0, 'no job')
  proxy.restore()
  t.equal((await upload()).status, 201, 'uploads work again once storage is back, with no restart')
})

t.test('storage unreachable during a job: retried, and completed once storage is back', async (t) => {
  const worker = await startService(t, 'thumbnail-worker', services)
  const id = randomUUID()
  const original = await jpegImage(320, 240)
  await storage.putObject(`originals/${id}.jpg`, original, original.length, 'image/jpeg')
  await env.repos.images.createWithThumbnails({ id, owner_id: user.user.id, title: '', format: 'jpeg', width: 320, height: 240, bytes: original.length, original_key: `originals/${id}.jpg` }, [200, 400])
  // make sure earlier uploads are done, so the outage hits this job
  await waitFor(async () => ((await jobCount()) === 0 ? true : undefined), { timeoutMs: 60_000, what: 'an idle queue' })

  proxy.cut()
  await enqueueThumbnails(queue, { imageId: id, requestId: 'storage-outage' })
  await waitFor(() => worker.logs.some((l) => l.requestId === 'storage-outage' && l.msg === 'thumbnails failed') || undefined, { what: 'a failed attempt' })
  const rows = (await env.repos.images.findByOwner(id, user.user.id))!.thumbnails
  t.same(rows.map((r) => r.status), ['pending', 'pending'], 'an outage does not fail the rows')

  proxy.restore()
  await waitFor(async () => ((await env.repos.images.findByOwner(id, user.user.id))!.thumbnails.every((r) => r.status === 'ready') ? true : undefined), {
    timeoutMs: 60_000,
    what: 'thumbnails ready after the outage',
  })
  t.same(
    (await storage.listKeys(`thumbnails/${id}/`)).sort(),
    ['200.jpg', '200.webp', '400.jpg', '400.webp'].map((name) => `thumbnails/${id}/${name}`),
    'every height in every default format (source, WebP)',
  )
  t.equal(await worker.stop(), 0)
})
