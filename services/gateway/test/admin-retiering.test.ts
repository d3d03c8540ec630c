import t from 'tap'
import { UnrecoverableError, Worker } from 'bullmq'
import { Priority, redisConnection, thumbnailJobId, THUMBNAIL_QUEUE } from '@imageapi/queue'
import { createTestUser, jpegImage } from '@imageapi/testkit'
import { ADMIN_COOKIE } from '../src/plugins/app/require-admin.js'
import { signInAdmin, uploadImage } from './helpers/admin.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// No worker here: the test plays the worker's part on the rows, to check what the admin API owes
// and shows at each step. admin-backfill.test.ts runs real workers.
const { app, env } = await buildTestGateway(t)
const { token: adminToken, asAdmin } = await signInAdmin(app, env.repos)
const owner = await createTestUser(env.repos, 'Premium')
const ownerToken = (await login(app, owner.email, owner.password)).access
const upload = async () => uploadImage(app, ownerToken, await jpegImage(80, 60))

/** What the worker would do: every pending row the tier grants becomes ready, in every owed format. */
async function renderOwed(imageIds: string[]) {
  for (const imageId of imageIds) {
    const work = await env.repos.thumbnails.findOwedWork(imageId)
    for (const height of work?.owedHeights ?? []) await env.repos.thumbnails.markReady(imageId, height, { width: height, objectKey: `thumbnails/${imageId}/${height}.jpg`, bytes: 1 })
    await env.repos.thumbnails.markRenditionsReady(
      imageId,
      (work?.owedRenditions ?? []).map(({ height, format }) => ({ height, format, objectKey: `thumbnails/${imageId}/${height}.${format}`, bytes: 1 })),
    )
  }
}

async function listedHeights(): Promise<Array<Array<[number, string]>>> {
  const response = await app.inject({ method: 'GET', url: '/api/images', headers: { authorization: `Bearer ${ownerToken}` } })
  return response.json().items.map((image: { thumbnails: Array<{ height: number; status: string }> }) => image.thumbnails.map((x) => [x.height, x.status]))
}

const images = [await upload(), await upload()]
await renderOwed(images)
// the upload jobs would be done by now; without them every job below is the backfill's own
await app.thumbnailQueue.obliterate({ force: true })

const gallery = (await asAdmin({ method: 'POST', url: '/api/admin/tiers', payload: { name: 'Gallery', thumbnail_heights: [200, 400] } })).json()

t.test('moving a user: their images owe the new tier’s heights, queued at backfill priority; progress counts up', async (t) => {
  const moved = await asAdmin({ method: 'PATCH', url: `/api/admin/users/${owner.user.id}`, payload: { tier: 'Gallery' } })
  t.equal(moved.statusCode, 200)
  t.match(moved.json().user, { tier: { name: 'Gallery' }, images: 2 })
  t.same(await listedHeights(), [[[200, 'ready'], [400, 'ready']], [[200, 'ready'], [400, 'ready']]], 'same heights: nothing owed')
  t.equal(moved.json().backfill, null)

  const changed = await asAdmin({ method: 'PATCH', url: `/api/admin/tiers/${gallery.id}`, payload: { thumbnail_heights: [120, 400, 640] } })
  const backfill = changed.json().backfill
  t.match(backfill, { reason: 'tier_updated', tier: { id: gallery.id, name: 'Gallery' }, heights: [120, 640], images: 2, total: 4, done: 0, failed: 0, pending: 4, finished: false })
  t.same(await listedHeights(), [[[120, 'pending'], [400, 'ready'], [640, 'pending']], [[120, 'pending'], [400, 'ready'], [640, 'pending']]], '200 px is gone from the listing at once, 120 and 640 px owed')

  await app.backfillsQueued()
  for (const imageId of images) {
    const job = await app.thumbnailQueue.getJob(thumbnailJobId(imageId))
    t.equal(job?.opts.priority, Priority.backfill, 'one job per image, behind any upload')
  }

  await renderOwed([images[0]!])
  t.match((await asAdmin({ method: 'GET', url: `/api/admin/backfills/${backfill.id}` })).json(), { done: 2, total: 4, finished: false })
  await renderOwed([images[1]!])
  t.match((await asAdmin({ method: 'GET', url: `/api/admin/backfills/${backfill.id}` })).json(), { done: 4, total: 4, failed: 0, finished: true })
  t.equal((await asAdmin({ method: 'GET', url: '/api/admin/backfills' })).json().items[0].id, backfill.id)
  t.equal((await asAdmin({ method: 'GET', url: '/api/admin/backfills/nope' })).statusCode, 404)
})

t.test('a dropped height disappears from listings and its link stops being offered; granting it again is instant', async (t) => {
  const single = await app.inject({ method: 'GET', url: `/api/images/${images[0]}`, headers: { authorization: `Bearer ${ownerToken}` } })
  t.ok(single.json().thumbnails.some((x: { height: number; url: string }) => x.height === 640 && x.url))

  const dropped = await asAdmin({ method: 'PATCH', url: `/api/admin/tiers/${gallery.id}`, payload: { thumbnail_heights: [120, 400] } })
  t.equal(dropped.json().backfill, null, 'nothing new owed')
  t.same(await listedHeights(), [[[120, 'ready'], [400, 'ready']], [[120, 'ready'], [400, 'ready']]])
  const after = await app.inject({ method: 'GET', url: `/api/images/${images[0]}`, headers: { authorization: `Bearer ${ownerToken}` } })
  t.notOk(after.json().thumbnails.some((x: { height: number }) => x.height === 640))

  const regranted = await asAdmin({ method: 'PATCH', url: `/api/admin/tiers/${gallery.id}`, payload: { thumbnail_heights: [120, 400, 640] } })
  t.equal(regranted.json().backfill, null, 'the kept 640 px files are there already')
  t.same(await listedHeights(), [[[120, 'ready'], [400, 'ready'], [640, 'ready']], [[120, 'ready'], [400, 'ready'], [640, 'ready']]])
})

t.test('pending work for a height dropped before it was made is removed, not left pending forever', async (t) => {
  const changed = await asAdmin({ method: 'PATCH', url: `/api/admin/tiers/${gallery.id}`, payload: { thumbnail_heights: [120, 400, 640, 800] } })
  t.equal(changed.json().backfill.total, 2)
  await asAdmin({ method: 'PATCH', url: `/api/admin/tiers/${gallery.id}`, payload: { thumbnail_heights: [120, 400, 640] } })
  t.match((await asAdmin({ method: 'GET', url: `/api/admin/backfills/${changed.json().backfill.id}` })).json(), { total: 0, pending: 0, finished: true })
  t.same(await env.repos.thumbnails.listImagesPendingSince(new Date(Date.now() + 60_000), 10), [], 'nothing pending for the reconciler')
})

t.test('asking for a tier’s backfill repairs missing rows, and says when nothing is missing', async (t) => {
  await env.database.db.deleteFrom('thumbnails').where('image_id', '=', images[1]!).where('height', '=', 120).execute()
  const repaired = await asAdmin({ method: 'POST', url: '/api/admin/backfills', payload: { tier: 'Gallery' } })
  t.equal(repaired.statusCode, 201)
  t.match(repaired.json().backfill, { reason: 'requested', heights: [120], images: 1, total: 1 })
  await renderOwed([images[1]!])
  const nothing = await asAdmin({ method: 'POST', url: '/api/admin/backfills', payload: { tier: 'Gallery' } })
  t.equal(nothing.statusCode, 200)
  t.same(nothing.json(), { backfill: null })
  t.equal((await asAdmin({ method: 'POST', url: '/api/admin/backfills', payload: { tier: 'Gold' } })).json().field, 'tier')
})

t.test('queue control: counts per state, pause and resume, retry failed jobs (rows back to pending)', async (t) => {
  await app.backfillsQueued()
  await app.thumbnailQueue.obliterate({ force: true })
  // a job that fails for good, as a worker would leave it: the rows say failed, the job is failed
  const failing = await upload()
  await env.repos.thumbnails.markFailed(failing, [120, 400, 640], 'the image could not be decoded')
  const worker = new Worker(
    THUMBNAIL_QUEUE,
    async () => {
      throw new UnrecoverableError('the image could not be decoded')
    },
    { connection: redisConnection(env.redisUrl, { worker: true }), prefix: env.queuePrefix },
  )
  await new Promise((resolve) => worker.once('failed', resolve))
  await worker.close()

  const status = await asAdmin({ method: 'GET', url: '/api/admin/queue' })
  t.same(status.json(), { paused: false, counts: { waiting: 0, prioritized: 0, active: 0, delayed: 0, failed: 1, completed: 0 } })

  const retried = await asAdmin({ method: 'POST', url: '/api/admin/queue/retry-failed' })
  t.match(retried.json(), { images: 1, thumbnails: 3, queue: { counts: { failed: 0, prioritized: 1 } } })
  t.same((await listedHeights())[0], [[120, 'pending'], [400, 'pending'], [640, 'pending']], 'pending again, for the worker to render')
  t.equal((await app.thumbnailQueue.getJob(thumbnailJobId(failing)))?.opts.priority, Priority.backfill)

  t.equal((await asAdmin({ method: 'POST', url: '/api/admin/queue/pause' })).json().paused, true)
  t.equal(await app.thumbnailQueue.isPaused(), true)
  t.equal((await asAdmin({ method: 'GET', url: '/api/admin/queue' })).json().paused, true)
  t.equal((await asAdmin({ method: 'POST', url: '/api/admin/queue/resume' })).json().paused, false)
  t.equal(await app.thumbnailQueue.isPaused(), false)
})

t.test('the queue dashboard opens only with the cookie the console sets for an admin', async (t) => {
  t.equal((await app.inject({ method: 'GET', url: '/admin/queues' })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/admin/queues/api/queues' })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie: `${ADMIN_COOKIE}=${adminToken}` } })).statusCode, 401, 'an access token is not a cookie token')
  const forged = app.jwt.sign({ sub: owner.user.id, typ: 'admin-cookie' })
  t.equal((await app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie: `${ADMIN_COOKIE}=${forged}` } })).statusCode, 403, 'a cookie of a non-admin')

  const session = await asAdmin({ method: 'POST', url: '/api/admin/session' })
  t.equal(session.statusCode, 204)
  const setCookie = String(session.headers['set-cookie'])
  t.match(setCookie, /; Path=\/admin\/queues; Max-Age=\d+; HttpOnly; SameSite=Strict$/)
  const cookie = setCookie.split(';')[0]!
  const page = await app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie: `other=1; ${cookie}` } })
  t.equal(page.statusCode, 200)
  t.match(page.body, '<base href="/admin/queues/"')
  const queues = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie } })
  t.equal(queues.json().queues[0].name, 'thumbnails')
  t.equal(queues.json().queues[0].readOnlyMode, true)

  const signOut = await asAdmin({ method: 'DELETE', url: '/api/admin/session' })
  t.match(String(signOut.headers['set-cookie']), /^imageapi_admin=; Path=\/admin\/queues; Max-Age=0/)
})

t.test('the console is served at /admin as files: no inline script, helmet’s CSP on', async (t) => {
  for (const url of ['/admin', '/admin/']) {
    const page = await app.inject({ method: 'GET', url })
    t.equal(page.statusCode, 200, url)
    t.match(page.headers['content-type'], /text\/html/)
    t.match(page.headers['content-security-policy'], /script-src 'self'/)
    const scripts = page.body.match(/<script[^>]*>/g) ?? []
    t.ok(scripts.length > 0 && scripts.every((tag) => /\ssrc="\/admin\//.test(tag)), 'every script is a file of the console')
    t.notMatch(page.body, /https?:\/\//, 'nothing from another host')
  }
  t.match((await app.inject({ method: 'GET', url: '/admin/console.js' })).headers['content-type'], /javascript/)
  t.match((await app.inject({ method: 'GET', url: '/admin/console.css' })).headers['content-type'], /text\/css/)
  t.equal((await app.inject({ method: 'GET', url: '/admin/../package.json' })).statusCode, 404)
})
