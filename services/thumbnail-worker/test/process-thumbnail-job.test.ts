import t from 'tap'
import { Worker, type Job, type JobsOptions } from 'bullmq'
import { createTestEnvironment, createTestUser, jpegImage, waitFor, type Teardown } from '@imageapi/testkit'
import { createThumbnailQueue, redisConnection, THUMBNAIL_QUEUE, thumbnailJobId, type ThumbnailJobData } from '@imageapi/queue'
import { createMinioStorage, type ObjectStorage } from '@imageapi/storage'
import { createThumbnailJobProcessor } from '../src/process-thumbnail-job.js'
import { reconcileOnce } from '../src/reconciler.js'
import { memoryLogger, notAnImage, storeImage, thumbnailKeys, thumbnailRows, unusedPort, sourceFormatOnly } from './support.js'

// The job processor driven by a real BullMQ worker on this file's own queue prefix.
const env = await createTestEnvironment(t)
// the source-format path; WebP/AVIF renditions and placeholders: generate-renditions.test.ts
await sourceFormatOnly(env)
const owner = (await createTestUser(env.repos, 'Premium')).user
const limits = { maxInputPixels: 50_000_000, maxOutputPixels: 50_000_000 }
const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
t.teardown(() => queue.close())

/** Two quick attempts instead of production's five with exponential backoff; jobs are kept for inspection. */
const fastRetries: JobsOptions = { attempts: 2, backoff: { type: 'fixed', delay: 50 }, removeOnComplete: false, removeOnFail: false }

/** A worker for one subtest (subtests run one after another, so only one takes jobs at a time). */
function startWorker(t: Teardown, storage: ObjectStorage) {
  const { log, lines } = memoryLogger()
  const worker = new Worker<ThumbnailJobData>(THUMBNAIL_QUEUE, createThumbnailJobProcessor({ repos: env.repos, storage, log, limits }), {
    connection: redisConnection(env.redisUrl, { worker: true }),
    prefix: env.queuePrefix,
    concurrency: 1,
  })
  t.teardown(() => worker.close())
  return { worker, lines }
}

async function add(imageId: string, requestId: string): Promise<string> {
  const jobId = thumbnailJobId(imageId)
  await queue.add('render', { imageId, requestId }, { ...fastRetries, jobId })
  return jobId
}

async function settled(jobId: string): Promise<Job<ThumbnailJobData>> {
  await waitFor(
    async () => {
      const state = await queue.getJobState(jobId)
      return state === 'completed' || state === 'failed'
    },
    { timeoutMs: 20_000, intervalMs: 25, what: `job ${jobId} to settle` },
  )
  return (await queue.getJob(jobId))!
}

t.test('a job renders every owed thumbnail and its request id is on the "thumbnails done" line', async (t) => {
  const { lines } = startWorker(t, env.storage)
  const image = await storeImage(env, owner, await jpegImage(1200, 900))
  const jobId = await add(image.id, 'request-done-1')
  const job = await settled(jobId)
  t.equal(await job.getState(), 'completed')
  t.same(job.returnvalue, { format: 'jpeg', rendered: [200, 400], failed: [], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } })
  t.same(
    (await thumbnailRows(env, image.id)).map((row) => [row.height, row.status, row.width]),
    [
      [200, 'ready', 267],
      [400, 'ready', 533],
    ],
  )
  const done = lines.filter((line) => line.msg === 'thumbnails done')
  t.equal(done.length, 1, 'one "thumbnails done" line')
  t.match(done[0], { requestId: 'request-done-1', imageId: image.id, jobId, attempt: 1, rendered: [200, 400], failed: [] })
  t.type(done[0]?.durationMs, 'number')
})

t.test('a corrupt image fails at once: rows failed with a decoding reason, no retry', async (t) => {
  const { lines } = startWorker(t, env.storage)
  const image = await storeImage(env, owner, notAnImage(), { format: 'jpeg' })
  const job = await settled(await add(image.id, 'request-corrupt'))
  t.equal(await job.getState(), 'failed')
  t.equal(job.attemptsMade, 1, 'one attempt of the two allowed')
  t.match(job.failedReason, /could not be decoded/)
  const rows = await thumbnailRows(env, image.id)
  t.same(rows.map((row) => row.status), ['failed', 'failed'])
  for (const row of rows) t.match(row.error, /^the image could not be decoded: /, `${row.height}: reason mentions decoding`)
  t.same(await thumbnailKeys(env, image.id), [])
  const failures = lines.filter((line) => line.msg === 'thumbnails failed')
  t.equal(failures.length, 1, 'one failed attempt logged')
  t.match(failures[0], { requestId: 'request-corrupt', permanent: true, attempt: 1 })
})

t.test('storage unreachable on every attempt: rows stay pending (an outage is not a bad image) until the reconciler queues them again', async (t) => {
  const down = createMinioStorage({ ...env.s3, endPoint: `http://127.0.0.1:${await unusedPort()}`, keepAlive: false, timeoutMs: 500 })
  const { worker, lines } = startWorker(t, down)
  const image = await storeImage(env, owner, await jpegImage(800, 600))
  const job = await settled(await add(image.id, 'request-outage'))
  t.equal(await job.getState(), 'failed')
  t.equal(job.attemptsMade, 2, 'both attempts used')
  t.match(job.failedReason, /not reachable/)
  t.match(
    await thumbnailRows(env, image.id),
    [
      { height: 200, status: 'pending', error: null },
      { height: 400, status: 'pending', error: null },
    ],
    'still owed',
  )
  const failures = lines.filter((line) => line.msg === 'thumbnails failed')
  t.equal(failures.length, 2, 'two failed attempts logged')
  t.match(failures, [
    { requestId: 'request-outage', permanent: false, lastAttempt: false, attempt: 1 },
    { requestId: 'request-outage', permanent: false, lastAttempt: true, attempt: 2 },
  ])

  // storage is back: the reconciler queues the image again (replacing the failed job) and a worker makes it
  await worker.close()
  startWorker(t, env.storage)
  const reconciled = await reconcileOnce({ repos: env.repos, storage: env.storage, queue, log: memoryLogger().log, pendingAfterMs: 1_000, now: () => Date.now() + 60_000 })
  t.equal(reconciled.requeued, 1, 'reconciler queued it again')
  await waitFor(async () => (await thumbnailRows(env, image.id)).every((row) => row.status === 'ready'), { timeoutMs: 20_000, what: 'rows ready' })
  t.same(await thumbnailKeys(env, image.id), [`thumbnails/${image.id}/200.jpg`, `thumbnails/${image.id}/400.jpg`], 'made after the outage')
})

t.test('an unexpected error (neither an outage nor a bad image) on the last attempt marks the rows failed ("rendering failed repeatedly")', async (t) => {
  // A bug, say: storage that reads the original and then throws a TypeError on every write. (A
  // missing bucket or refused keys are outages now: they leave the rows pending, tested above.)
  const buggy: ObjectStorage = {
    ...env.storage,
    putObject: async () => {
      throw new TypeError('a bug in the storage adapter')
    },
  }
  startWorker(t, buggy)
  const image = await storeImage(env, owner, await jpegImage(800, 600))
  const job = await settled(await add(image.id, 'request-misconfigured'))
  t.equal(await job.getState(), 'failed')
  t.equal(job.attemptsMade, 2, 'retried before giving up')
  t.match(await thumbnailRows(env, image.id), [
    { height: 200, status: 'failed', error: 'rendering failed repeatedly' },
    { height: 400, status: 'failed', error: 'rendering failed repeatedly' },
  ])
})
