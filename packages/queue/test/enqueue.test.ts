import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Worker } from 'bullmq'
import { createThumbnailQueue, enqueueThumbnails, redisConnection, thumbnailJobId, THUMBNAIL_QUEUE, Priority } from '../src/index.js'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `test-queue-${randomUUID()}`
const queue = createThumbnailQueue({ redisUrl, prefix })
t.teardown(async () => {
  await queue.obliterate({ force: true })
  await queue.close()
})

t.test('one job per image, derived from the image id', async (t) => {
  const imageId = randomUUID()
  await enqueueThumbnails(queue, { imageId, requestId: 'req-1' })
  await enqueueThumbnails(queue, { imageId, requestId: 'req-2' })
  const job = await queue.getJob(thumbnailJobId(imageId))
  t.equal(job?.data.requestId, 'req-1')
  const counts = await queue.getJobCounts('wait', 'prioritized')
  t.equal((counts.wait ?? 0) + (counts.prioritized ?? 0), 1)
  t.ok((job?.opts.attempts ?? 0) >= 3)
  t.equal(job?.opts.backoff && typeof job.opts.backoff === 'object' ? job.opts.backoff.type : undefined, 'exponential')
  await queue.drain()
})

t.test('a failed job does not block re-enqueueing the same image', async (t) => {
  const imageId = randomUUID()
  const worker = new Worker(
    THUMBNAIL_QUEUE,
    async () => {
      throw new Error('boom')
    },
    { connection: redisConnection(redisUrl, { worker: true }), prefix, autorun: false },
  )
  await queue.add('render', { imageId }, { jobId: thumbnailJobId(imageId), attempts: 1 })
  const failed = new Promise((resolve) => worker.once('failed', resolve))
  void worker.run()
  await failed
  await worker.close()
  t.equal(await (await queue.getJob(thumbnailJobId(imageId)))?.getState(), 'failed')
  await enqueueThumbnails(queue, { imageId }, { priority: Priority.backfill })
  const job = await queue.getJob(thumbnailJobId(imageId))
  t.equal(await job?.getState(), 'prioritized')
  t.equal(job?.opts.priority, Priority.backfill)
})
