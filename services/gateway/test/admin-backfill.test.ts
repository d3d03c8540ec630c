import t from 'tap'
import { JOB_STATES, Priority, thumbnailJobId } from '@imageapi/queue'
import { createTestUser, jpegImage, startService, waitFor } from '@imageapi/testkit'
import { signInAdmin, uploadImage } from './helpers/admin.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Re-tiering with real worker processes: a worker killed in the middle of a backfill, with Redis
// losing every job too, loses nothing (the rows are the truth and the next worker's reconciler
// queues them again); and backfill work never goes before a fresh upload.
const { app, env } = await buildTestGateway(t)
const { asAdmin } = await signInAdmin(app, env.repos)
const owner = await createTestUser(env.repos, 'Basic')
const ownerToken = (await login(app, owner.email, owner.password)).access
const workerEnv = { ...env.env, WORKER_CONCURRENCY: '1', RECONCILE_AFTER_SECONDS: '1', RECONCILE_INTERVAL_SECONDS: '1' }

// 3000 × 2000: each image takes a worker a noticeable moment, so it can be killed half way
const photo = await jpegImage(3000, 2000)
const upload = () => uploadImage(app, ownerToken, photo)

const IMAGES = 8
const images: string[] = []
for (let i = 0; i < IMAGES; i++) images.push(await upload())

async function progress(backfillId: string) {
  return (await asAdmin({ method: 'GET', url: `/api/admin/backfills/${backfillId}` })).json() as { done: number; failed: number; total: number; finished: boolean }
}

t.test('a backfill resumes after its worker is killed half way and Redis lost the jobs', async (t) => {
  const tier = (await asAdmin({ method: 'POST', url: '/api/admin/tiers', payload: { name: 'Large', thumbnail_heights: [400, 1000] } })).json()
  const moved = await asAdmin({ method: 'PATCH', url: `/api/admin/users/${owner.user.id}`, payload: { tier: tier.name } })
  const backfill = moved.json().backfill
  t.match(backfill, { reason: 'user_moved', heights: [400, 1000], images: IMAGES, total: 2 * IMAGES })

  const first = await startService(t, 'thumbnail-worker', workerEnv)
  const atKill = await waitFor(async () => {
    const now = await progress(backfill.id)
    return now.done >= 2 && now
  }, { intervalMs: 20, timeoutMs: 60_000, what: 'the first worker to make some thumbnails' })
  first.process.kill('SIGKILL')
  await first.exited
  const left = await progress(backfill.id)
  t.ok(left.done < left.total, `killed half way (${atKill.done} then ${left.done} of ${left.total} done)`)
  // Redis forgets everything: only Postgres knows what is still owed
  await app.backfillsQueued() // the gateway has nothing left to queue for this backfill
  await app.thumbnailQueue.obliterate({ force: true })
  const queued = async () => Object.values(await app.thumbnailQueue.getJobCounts(...JOB_STATES)).reduce((sum, n) => sum + n, 0)
  t.equal(await queued(), 0, 'Redis lost every job')
  const owed: string[] = []
  for (const id of images) if ((await env.repos.images.findByOwner(id, owner.user.id))!.thumbnails.some((x) => x.status !== 'ready')) owed.push(id)
  t.ok(owed.length > 0, `${owed.length} images still owe thumbnails`)

  // Only the next worker's reconciler can queue that work again. The queue is held paused until it
  // has, so the jobs it adds can be seen before they are done and removed.
  await app.thumbnailQueue.pause()
  const second = await startService(t, 'thumbnail-worker', workerEnv)
  const requeued = await waitFor(async () => {
    const jobs = await Promise.all(owed.map((id) => app.thumbnailQueue.getJob(thumbnailJobId(id))))
    return jobs.every((job) => job !== undefined) ? jobs.map((job) => job!) : undefined
  }, { timeoutMs: 30_000, intervalMs: 250, what: 'a job for every image still owed, queued again' })
  t.same(requeued.map((job) => job.data.imageId), owed, 'the reconciler queued the lost work: a job for every image still owed')
  t.ok(requeued.every((job) => job.opts.priority === Priority.backfill), 'at backfill priority')
  await app.thumbnailQueue.resume()
  const finished = await waitFor(async () => {
    const now = await progress(backfill.id)
    return now.finished && now
  }, { timeoutMs: 90_000, what: 'the backfill to finish' })
  t.match(finished, { done: 2 * IMAGES, failed: 0, total: 2 * IMAGES })
  t.ok(second.logs.some((line) => line.msg === 'reconciled'), 'and the reconciler logged it')

  const listing = await app.inject({ method: 'GET', url: '/api/images?limit=100', headers: { authorization: `Bearer ${ownerToken}` } })
  for (const image of listing.json().items) {
    t.same(image.thumbnails.map((x: { height: number; width: number; status: string }) => [x.height, x.width, x.status]), [[400, 600, 'ready'], [1000, 1500, 'ready']])
  }
  t.equal(await second.stop('SIGTERM'), 0)
})

t.test('backfill work waits behind a fresh upload', async (t) => {
  const worker = await startService(t, 'thumbnail-worker', workerEnv)
  await asAdmin({ method: 'POST', url: '/api/admin/queue/pause' })
  const large = (await env.repos.tiers.findByName('Large'))!
  const changed = await asAdmin({ method: 'PATCH', url: `/api/admin/tiers/${large.id}`, payload: { thumbnail_heights: [300, 400, 1000] } })
  t.equal(changed.json().backfill.images, IMAGES)
  await app.backfillsQueued()
  const fresh = await upload()
  await asAdmin({ method: 'POST', url: '/api/admin/queue/resume' })

  await waitFor(async () => (await progress(changed.json().backfill.id)).finished, { timeoutMs: 60_000, what: 'the backfill to finish' })
  // when each row was made ready (updated_at is set to now() as it is marked ready): the fresh
  // upload's every thumbnail before any of the backfill's
  const backfillId = changed.json().backfill.id as string
  const freshRows = await env.database.db.selectFrom('thumbnails').select(['height', 'status', 'updated_at']).where('image_id', '=', fresh).execute()
  const backfillRows = await env.database.db.selectFrom('thumbnails').select(['image_id', 'status', 'updated_at']).where('backfill_id', '=', backfillId).execute()
  t.same([...freshRows].sort((a, b) => a.height - b.height).map((row) => [row.height, row.status]), [[300, 'ready'], [400, 'ready'], [1000, 'ready']], 'the upload: every height ready')
  t.equal(backfillRows.filter((row) => row.status === 'ready').length, IMAGES, `the backfill: its ${IMAGES} thumbnails (300 px) ready`)
  const times = {
    fresh_last: new Date(Math.max(...freshRows.map((row) => new Date(row.updated_at).getTime()))),
    backfill_first: new Date(Math.min(...backfillRows.map((row) => new Date(row.updated_at).getTime()))),
  }
  t.ok(times.fresh_last < times.backfill_first, `the upload was rendered first, though queued after ${IMAGES} backfill jobs (${times.fresh_last.toISOString()} < ${times.backfill_first.toISOString()})`)
  const done = worker.logs.filter((line) => line.msg === 'thumbnails done').map((line) => line.imageId)
  t.equal(done[0], fresh, 'and the worker logged it done first')
  t.equal(await worker.stop('SIGTERM'), 0)
})
