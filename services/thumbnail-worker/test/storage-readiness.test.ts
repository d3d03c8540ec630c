import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { createThumbnailQueue, enqueueThumbnails } from '@imageapi/queue'
import { createTestEnvironment, createTestUser, jpegImage, s3AdminClient, startService, waitFor, type RunningService } from '@imageapi/testkit'

// Worker processes on this file's bucket: one with a wrong secret key, one whose bucket is removed
// while it runs. /readyz must say what is wrong, and a job must count as an outage (retried, rows
// left pending), not as a bad image (rows failed for good).
const env = await createTestEnvironment(t)
const owner = await createTestUser(env.repos, 'Premium')

async function imageWithOriginal(): Promise<string> {
  const id = randomUUID()
  const original = await jpegImage(320, 240)
  await env.storage.putObject(`originals/${id}.jpg`, original, original.length, 'image/jpeg')
  await env.repos.images.createWithThumbnails({ id, owner_id: owner.user.id, title: '', format: 'jpeg', width: 320, height: 240, bytes: original.length, original_key: `originals/${id}.jpg` }, [200, 400])
  return id
}

async function failedAttempt(t: Test, worker: RunningService, prefix: string, imageId: string, requestId: string) {
  const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix })
  t.teardown(() => queue.close())
  await enqueueThumbnails(queue, { imageId, requestId })
  const line = await waitFor(() => worker.logs.find((l) => l.requestId === requestId && l.msg === 'thumbnails failed'), { timeoutMs: 60_000, what: 'a failed attempt' })
  return line as { permanent?: boolean; err?: { type?: string; message?: string } }
}

async function statuses(imageId: string): Promise<string[]> {
  return (await env.repos.images.findByOwner(imageId, owner.user.id))!.thumbnails.map((row) => row.status)
}

t.test('a wrong secret key: /readyz 503 naming the refused credentials; a job is an outage, its rows stay pending', async (t) => {
  // one worker at a time on this file's queue: this one is stopped before the next test starts its own
  const worker = await startService(t, 'thumbnail-worker', { ...env.env, S3_SECRET_KEY: 'not-the-secret' })
  const ready = await fetch(`${worker.url}/readyz`)
  t.equal(ready.status, 503)
  const body = (await ready.json()) as { message: string; checks: Record<string, string> }
  t.equal(body.checks.storage, 'down')
  t.match(body.message, new RegExp(`storage \\(.*credentials.*${env.s3.bucket}`))

  const id = await imageWithOriginal()
  const attempt = await failedAttempt(t, worker, env.queuePrefix, id, 'wrong-secret')
  t.equal(attempt.permanent, false, 'not a permanent failure')
  t.equal(attempt.err?.type, 'StorageUnavailableError')
  t.same(await statuses(id), ['pending', 'pending'])
  t.equal(await worker.stop(), 0)
  // its job waits for a retry: the next test's worker must not take it and write into the bucket it removes
  const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
  await queue.obliterate({ force: true })
  await queue.close()
})

t.test('the bucket removed under a running worker: /readyz 503 naming it; a job is an outage, its rows stay pending', async (t) => {
  const worker = await startService(t, 'thumbnail-worker', env.env)
  t.equal((await fetch(`${worker.url}/readyz`)).status, 200, 'ready while the bucket is there')
  const id = await imageWithOriginal()
  const admin = s3AdminClient(env.s3)
  await admin.removeObjects(env.s3.bucket, await env.storage.listKeys())
  await admin.removeBucket(env.s3.bucket)

  const ready = await fetch(`${worker.url}/readyz`)
  t.equal(ready.status, 503)
  const body = (await ready.json()) as { message: string; checks: Record<string, string> }
  t.equal(body.checks.storage, 'down')
  t.match(body.message, `storage (bucket ${env.s3.bucket} does not exist`)

  const attempt = await failedAttempt(t, worker, env.queuePrefix, id, 'bucket-removed')
  t.equal(attempt.permanent, false, 'not a permanent failure ("the original file is missing")')
  t.equal(attempt.err?.type, 'StorageUnavailableError')
  t.same(await statuses(id), ['pending', 'pending'])
  t.equal(await worker.stop(), 0)
})
