import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { createThumbnailQueue, enqueueThumbnails, JOB_STATES, Priority, thumbnailJobId } from '@imageapi/queue'
import { createTestEnvironment, createTestUser, jpegImage, startRedisServer, startService, waitFor } from '@imageapi/testkit'

/** Files a thumbnail is stored as by default: its source format and WebP (AVIF is off by default). */
const FILES_PER_THUMBNAIL = 2

// Redis keeps nothing on disk here: losing its contents must lose no thumbnail, since Postgres says what is owed.
const env = await createTestEnvironment(t)
const redis = await startRedisServer(t)
const owner = await createTestUser(env.repos, 'Premium')
const original = await jpegImage(160, 120)

const IMAGES = 50
const ids: string[] = []
const queue = createThumbnailQueue({ redisUrl: redis.url, prefix: env.queuePrefix })
t.teardown(() => queue.close())
for (let i = 0; i < IMAGES; i++) {
  const id = randomUUID()
  const key = `originals/${id}.jpg`
  await env.storage.putObject(key, original, original.length, 'image/jpeg')
  await env.repos.images.createWithThumbnails({ id, owner_id: owner.user.id, title: `lost ${i}`, format: 'jpeg', width: 160, height: 120, bytes: original.length, original_key: key }, [200, 400])
  await enqueueThumbnails(queue, { imageId: id })
  ids.push(id)
}

t.test('FLUSHALL with 50 images pending: the reconciler queues them again and every thumbnail is made', async (t) => {
  const counts = await queue.getJobCounts('prioritized', 'waiting')
  t.equal((counts.prioritized ?? 0) + (counts.waiting ?? 0), IMAGES, 'all 50 jobs were queued')
  const client = new Redis(redis.url)
  await client.flushall()
  client.disconnect()
  const total = async () => Object.values(await queue.getJobCounts(...JOB_STATES)).reduce((sum, n) => sum + n, 0)
  t.equal(await total(), 0, 'Redis lost every job')
  t.same(await Promise.all(ids.map((id) => queue.getJob(thumbnailJobId(id)))), ids.map(() => undefined), 'no job left for any image')

  // Only the worker's reconciler can queue them now (nothing else runs). The queue is held paused
  // until it has, so the jobs it adds can be seen before they are done and removed.
  await queue.pause()
  const worker = await startService(t, 'thumbnail-worker', { ...env.env, REDIS_URL: redis.url, RECONCILE_AFTER_SECONDS: '1', RECONCILE_INTERVAL_SECONDS: '1' })
  const requeued = await waitFor(
    async () => {
      const jobs = await Promise.all(ids.map((id) => queue.getJob(thumbnailJobId(id))))
      return jobs.every((job) => job !== undefined) ? jobs.map((job) => job!) : undefined
    },
    { timeoutMs: 30_000, intervalMs: 250, what: 'a job for every image, queued again by the reconciler' },
  )
  t.same(requeued.map((job) => job.data.imageId), ids, 'the reconciler queued a job for each of the 50 images')
  t.ok(requeued.every((job) => job.opts.priority === Priority.backfill), 'at backfill priority, as the reconciler queues (the lost jobs were upload priority)')
  t.equal(await total(), IMAGES, 'one job per image, none twice')
  await queue.resume()

  const ready = await waitFor(
    async () => {
      const pending = []
      for (const id of ids) {
        const image = await env.repos.images.findByOwner(id, owner.user.id)
        if (image!.thumbnails.some((x) => x.status !== 'ready')) pending.push(id)
      }
      return pending.length === 0 ? true : undefined
    },
    { timeoutMs: 90_000, intervalMs: 500, what: 'every thumbnail ready' },
  )
  t.ok(ready)
  t.ok(worker.logs.some((line) => line.msg === 'reconciled' && Number(line.requeued) > 0), 'and it logged that it did')
  const keys = (await env.storage.listKeys('thumbnails/')).length
  t.equal(keys, IMAGES * 2 * FILES_PER_THUMBNAIL, 'one object per thumbnail and format, none twice')
  t.equal(await worker.stop(), 0)
})
