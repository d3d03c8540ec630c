import t from 'tap'
import { createTestEnvironment, createTestUser, jpegImage, waitFor } from '@imageapi/testkit'
import { createThumbnailQueue, Priority, thumbnailJobId } from '@imageapi/queue'
import { generateThumbnails } from '../src/generate-thumbnails.js'
import { reconcileOnce, startReconciler, type ReconcilerDeps } from '../src/reconciler.js'
import { memoryLogger, storeImage } from './support.js'

// No worker runs in this file: jobs the reconciler adds stay on the queue to be inspected.
const env = await createTestEnvironment(t)
const owner = (await createTestUser(env.repos, 'Premium')).user
const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
t.teardown(() => queue.close())
const { log, lines } = memoryLogger()
const PENDING_AFTER_MS = 120_000

function deps(now?: number): ReconcilerDeps {
  return { repos: env.repos, storage: env.storage, queue, log, pendingAfterMs: PENDING_AFTER_MS, now: now === undefined ? undefined : () => now }
}

async function putObject(key: string): Promise<void> {
  const data = Buffer.from(`object ${key}`)
  await env.storage.putObject(key, data, data.length, 'application/octet-stream')
}

// Rows written by this file: one image left pending (its job "lost"), one done.
const pending = await storeImage(env, owner, await jpegImage(300, 200))
const done = await storeImage(env, owner, await jpegImage(300, 200))
await generateThumbnails({ repos: env.repos, storage: env.storage, log, limits: { maxInputPixels: 50_000_000, maxOutputPixels: 50_000_000 } }, done.id)
const orphanKey = `thumbnails/orphan-${Date.now()}/200.jpg`
await putObject(orphanKey)
await env.repos.objectDeletions.record([orphanKey])

t.test('before the deadline nothing is queued and recent deletion records are left alone', async (t) => {
  t.same(await reconcileOnce(deps()), { requeued: 0, objectsRemoved: 0 })
  t.equal(await queue.count(), 0, 'queue still empty')
  t.ok(await env.storage.statObject(orphanKey), 'object still there')
  t.same(await env.repos.objectDeletions.listOlderThan(new Date(Date.now() + 1_000), 10), [orphanKey], 'record still there')
})

t.test('past the deadline: images still pending are queued again, deleted objects are removed', async (t) => {
  const result = await reconcileOnce(deps(Date.now() + PENDING_AFTER_MS + 60_000))
  t.same(result, { requeued: 1, objectsRemoved: 1 })

  const job = await queue.getJob(thumbnailJobId(pending.id))
  t.ok(job, 'job for the pending image, under its per-image id')
  t.same(job?.data, { imageId: pending.id })
  t.equal(job?.opts.priority, Priority.backfill, 'behind uploads')
  t.equal(await queue.getJob(thumbnailJobId(done.id)), undefined, 'nothing for the image whose thumbnails are ready')
  t.equal(await queue.count(), 1)

  t.equal(await env.storage.statObject(orphanKey), null, 'object removed')
  t.same(await env.repos.objectDeletions.listOlderThan(new Date(Date.now() + 1_000_000), 10), [], 'deletion record confirmed')
  const reconciled = lines.filter((line) => line.msg === 'reconciled')
  t.equal(reconciled.length, 1, 'one "reconciled" line (the pass before the deadline logged nothing)')
  t.match(reconciled[0], { requeued: 1, objectsRemoved: 1 })
})

t.test('queueing an image whose job is still waiting adds no second job', async (t) => {
  const result = await reconcileOnce(deps(Date.now() + PENDING_AFTER_MS + 60_000))
  t.equal(result.requeued, 1, 'the image is still pending in Postgres')
  t.equal(await queue.count(), 1, 'still one job')
})

t.test('startReconciler queues and removes on its interval, and nothing more after stop()', async (t) => {
  await queue.obliterate({ force: true })
  const key = `thumbnails/orphan-interval/200.jpg`
  await putObject(key)
  await env.repos.objectDeletions.record([key])
  const reconciler = startReconciler(deps(Date.now() + PENDING_AFTER_MS + 60_000), 50)
  t.teardown(() => reconciler.stop())
  await waitFor(async () => (await queue.getJob(thumbnailJobId(pending.id))) !== undefined && (await env.storage.statObject(key)) === null, {
    timeoutMs: 10_000,
    what: 'an interval pass',
  })
  await reconciler.stop()
  t.ok(await queue.getJob(thumbnailJobId(pending.id)), 'job queued again by an interval pass')
  t.equal(await env.storage.statObject(key), null, 'object removed by an interval pass')
  t.same(await env.repos.objectDeletions.listOlderThan(new Date(Date.now() + 1_000_000), 10), [], 'deletion confirmed')
  t.equal(await queue.count(), 1, 'one job however many passes ran')

  await queue.obliterate({ force: true })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(await queue.count(), 0, 'no pass after stop()')
})
