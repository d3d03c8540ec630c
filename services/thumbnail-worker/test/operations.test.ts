import t from 'tap'
import { createTestEnvironment, createTestUser, jpegImage, startService, waitFor } from '@imageapi/testkit'
import { createThumbnailQueue, enqueueThumbnails } from '@imageapi/queue'

const env = await createTestEnvironment(t)
const worker = await startService(t, 'thumbnail-worker', env.env)
const base = worker.url!

t.test('the worker answers /healthz and /readyz on its own HTTP port', async (t) => {
  t.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.same(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' })
  const ready = await fetch(`${base}/readyz`)
  t.equal(ready.status, 200)
  t.same(((await ready.json()) as { checks: unknown }).checks, { postgres: 'ok', redis: 'ok', storage: 'ok' })
})

t.test('thumbnail, job and queue metrics move when a job runs', async (t) => {
  const metrics = async () => (await fetch(`${base}/metrics`)).text()
  const before = await metrics()
  t.notMatch(before, /imageapi_thumbnails_total\{height="200",format="jpeg",outcome="ready"\}/)

  const owner = await createTestUser(env.repos, 'Premium')
  const id = crypto.randomUUID()
  const original = await jpegImage(400, 300)
  await env.storage.putObject(`originals/${id}.jpg`, original, original.length, 'image/jpeg')
  await env.repos.images.createWithThumbnails({ id, owner_id: owner.user.id, title: '', format: 'jpeg', width: 400, height: 300, bytes: original.length, original_key: `originals/${id}.jpg` }, [200, 400])
  const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
  t.teardown(() => queue.close())
  await enqueueThumbnails(queue, { imageId: id, requestId: 'metrics-test' })

  const after = await waitFor(async () => {
    const text = await metrics()
    // the job ends a little after its thumbnails are counted (it then publishes the image's webhook events)
    const settled = /imageapi_thumbnails_total\{height="400",format="jpeg",outcome="ready"\} 1/.test(text) && /imageapi_queue_jobs\{queue="thumbnails",state="active"\} 0/.test(text)
    return settled ? text : undefined
  }, { what: 'the thumbnail metrics, with the job finished' })
  t.match(after, /imageapi_thumbnails_total\{height="200",format="jpeg",outcome="ready"\} 1/)
  t.match(after, /imageapi_job_duration_seconds_count\{outcome="done"\} 1/)
  t.match(after, /imageapi_job_wait_seconds_count 1/)
  t.match(after, /imageapi_queue_jobs\{queue="thumbnails",state="active"\} 0/)
  t.match(after, /process_resident_memory_bytes/)
})

t.test('SIGTERM: the worker and its HTTP port close, exit 0', async (t) => {
  t.equal(await worker.stop('SIGTERM'), 0)
  await t.rejects(fetch(`${base}/healthz`))
})
