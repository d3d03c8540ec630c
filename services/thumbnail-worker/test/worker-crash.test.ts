import t from 'tap'
import { createTestEnvironment, createTestUser, pngImage, startService, waitFor } from '@imageapi/testkit'
import { createThumbnailQueue, createThumbnailQueueEvents, enqueueThumbnails, thumbnailJobId } from '@imageapi/queue'
import { storeImage, thumbnailKeys, thumbnailRows } from './support.js'

// A worker killed with SIGKILL in the middle of a job loses nothing: once its lock lapses, the
// stalled-job check of another worker puts the job back and that worker makes the thumbnails.
const env = await createTestEnvironment(t)
const owner = (await createTestUser(env.repos, 'Premium')).user
const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
t.teardown(() => queue.close())
// BullMQ's own record of what happened to the job (its events stream in Redis), as proof beside the rows and objects
const events = createThumbnailQueueEvents({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
t.teardown(() => events.close())
const seen: Record<'active' | 'stalled' | 'completed' | 'failed', string[]> = { active: [], stalled: [], completed: [], failed: [] }
for (const name of Object.keys(seen) as Array<keyof typeof seen>) events.on(name, ({ jobId }: { jobId: string }) => seen[name].push(jobId))
await events.waitUntilReady()
// Short locks and frequent stalled checks, so the test need not wait production's 30 s. Not
// shorter: the surviving worker must keep renewing its own lock (every half lock) while CI runs
// four suites at once on two cores.
const workerEnv = { ...env.env, WORKER_CONCURRENCY: '1', WORKER_LOCK_SECONDS: '5', WORKER_STALLED_INTERVAL_SECONDS: '1' }

t.test('kill -9 during a job: the job is retried after its lock lapses and every thumbnail is made once', async (t) => {
  // 24 MP, ~45 MB: downloading and decoding it keeps the job active long enough to kill the worker
  const [image, first] = await Promise.all([pngImage(6000, 4000).then((png) => storeImage(env, owner, png)), startService(t, 'thumbnail-worker', workerEnv)])
  const jobId = thumbnailJobId(image.id)

  await enqueueThumbnails(queue, { imageId: image.id, requestId: 'request-crash' })
  await waitFor(async () => (await queue.getActive()).some((job) => job.id === jobId), { intervalMs: 10, timeoutMs: 20_000, what: 'the job to be active' })
  first.process.kill('SIGKILL')
  t.equal(await first.exited, 'SIGKILL', 'first worker killed')
  t.same(seen.completed, [], 'killed before it finished: the job never completed')
  t.notOk(first.logs.some((line) => line.msg === 'thumbnails done'), 'nor did the worker log it done')
  t.equal(await queue.getJobState(jobId), 'active', 'the job is still marked active, held by a dead worker')
  const rowsAtKill = await thumbnailRows(env, image.id)
  t.ok(rowsAtKill.some((row) => row.status === 'pending'), 'some thumbnails still owed when it died')

  const second = await startService(t, 'thumbnail-worker', workerEnv)
  await waitFor(async () => (await thumbnailRows(env, image.id)).every((row) => row.status === 'ready'), { timeoutMs: 90_000, what: 'every thumbnail ready' })

  // the rows are marked ready before the job completes: on a loaded machine its completion can come a moment later
  await waitFor(() => seen.completed.includes(jobId) || undefined, { timeoutMs: 10_000, what: 'the job to complete' })
  t.ok(seen.stalled.includes(jobId), 'the job was found stalled (its lock lapsed with the dead worker) and put back')
  t.same(seen.active, [jobId, jobId], 'taken twice: by the killed worker, then again after it stalled')
  t.same(seen.completed, [jobId], 'completed once')
  t.same(seen.failed, [], 'never failed')
  t.ok(
    second.logs.some((line) => line.msg?.toString().startsWith('job stalled') && line.jobId === jobId),
    'the second worker logged the job stalled',
  )
  await waitFor(() => second.logs.some((line) => line.msg === 'thumbnails done') || undefined, { timeoutMs: 10_000, what: 'the "thumbnails done" line' })
  const done = [...first.logs, ...second.logs].filter((line) => line.msg === 'thumbnails done')
  t.equal(done.length, 1, `one "thumbnails done" line in all: ${JSON.stringify(done)}`)
  t.match(done[0], { imageId: image.id, requestId: 'request-crash', jobId, rendered: [200, 400] })
  t.same(
    (await thumbnailRows(env, image.id)).map((row) => [row.height, row.status, row.width, row.object_key]),
    [
      [200, 'ready', 300, `thumbnails/${image.id}/200.png`],
      [400, 'ready', 600, `thumbnails/${image.id}/400.png`],
    ],
  )
  t.same(
    await thumbnailKeys(env, image.id),
    ['200.png', '200.webp', '400.png', '400.webp'].map((name) => `thumbnails/${image.id}/${name}`),
    'one object per height and default format (source, WebP)',
  )
  await waitFor(async () => (await queue.getJobState(jobId)) === 'unknown', { timeoutMs: 5_000, what: 'the completed job to be removed' })
  t.equal(await queue.getJobState(jobId), 'unknown', 'job completed and removed (removeOnComplete)')
  t.equal(await second.stop('SIGTERM'), 0, 'second worker exits 0 on SIGTERM')
})
