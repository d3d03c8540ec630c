import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { Cluster } from 'ioredis'
import { createThumbnailQueue, enqueueThumbnails, thumbnailJobId, type RedisTarget } from '@imageapi/queue'
import { createTestEnvironment, createTestUser, jpegImage, listObjectKeys, startRedisCluster, startServices, waitFor, type TestUser } from '@imageapi/testkit'

/** Files a thumbnail is stored as by default: its source format and WebP (AVIF is off by default). */
const FILES_PER_THUMBNAIL = 2

// The services unchanged on a Redis Cluster: 3 masters with a replica each, so a killed master fails
// over. REDIS_URL points nowhere, so everything Redis does must go through REDIS_CLUSTER_NODES.
const env = await createTestEnvironment(t)
const cluster = await startRedisCluster(t, { masters: 3, replicasPerMaster: 1 })
const UPLOADS_PER_USER = 12 // its burst bound (⌊12/2⌋ = 6 back to back) covers the 6 uploads per user of the master-kill test
const clusterEnv = {
  ...env.env,
  REDIS_URL: 'redis://127.0.0.1:1',
  REDIS_CLUSTER_NODES: cluster.nodesVariable,
  UPLOAD_RATE_LIMIT_PER_USER: String(UPLOADS_PER_USER),
  RECONCILE_AFTER_SECONDS: '2',
  RECONCILE_INTERVAL_SECONDS: '1',
  LINK_CHECK_CACHE_MS: '500',
}
const [links] = await startServices(t, [{ name: 'links', env: clusterEnv }])
const [gateway, worker] = await startServices(t, [
  { name: 'gateway', env: { ...clusterEnv, LINKS_URL: links.url! } },
  { name: 'thumbnail-worker', env: clusterEnv },
])
const base = gateway.url!
const redis: RedisTarget = { clusterNodes: cluster.nodes }
const queue = createThumbnailQueue({ redis, prefix: env.queuePrefix })
queue.on('error', () => {})
t.teardown(() => queue.close())
const photo = await jpegImage(640, 480)

interface ImageBody {
  id: string
  thumbnails: Array<{ height: number; status: string; url: string | null }>
  original: { url: string } | null
}

async function login(user: TestUser): Promise<string> {
  const response = await fetch(`${base}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: user.password }) })
  if (response.status !== 200) throw new Error(`login: ${response.status}`)
  return ((await response.json()) as { access: string }).access
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` })

async function upload(token: string): Promise<Response> {
  const form = new FormData()
  form.set('title', 'on a cluster')
  form.set('image', new Blob([photo]), 'photo.jpg')
  return fetch(`${base}/api/images`, { method: 'POST', headers: auth(token), body: form })
}

async function uploaded(token: string): Promise<ImageBody> {
  const response = await upload(token)
  if (response.status !== 201) throw new Error(`upload: ${response.status} ${await response.text()}`)
  return (await response.json()) as ImageBody
}

async function image(token: string, id: string): Promise<ImageBody> {
  return (await (await fetch(`${base}/api/images/${id}`, { headers: auth(token) })).json()) as ImageBody
}

async function whenReady(token: string, id: string, timeoutMs = 30_000): Promise<ImageBody> {
  return waitFor(async () => {
    const body = await image(token, id)
    return body.thumbnails.every((x) => x.status === 'ready') ? body : undefined
  }, { timeoutMs, intervalMs: 200, what: `thumbnails of ${id}` })
}

/** A client of the test's own, connected (its list of masters is empty until then). */
async function clusterClient(t: Test): Promise<Cluster> {
  const client = new Cluster(cluster.nodes)
  t.teardown(() => client.disconnect())
  await new Promise((resolve, reject) => client.once('ready', resolve).once('error', reject))
  return client
}

async function queueStatus(adminToken: string): Promise<{ paused: boolean; counts: Record<string, number> }> {
  return (await (await fetch(`${base}/api/admin/queue`, { headers: auth(adminToken) })).json()) as { paused: boolean; counts: Record<string, number> }
}

t.test('the queue keys live on the cluster, all in the one slot of the {QUEUE_PREFIX} hash tag', async (t) => {
  const client = await clusterClient(t)
  await queue.waitUntilReady()
  await queue.getJobCounts()
  t.equal(await client.exists(`{${env.queuePrefix}}:thumbnails:meta`), 1, 'the queue meta key, hash-tagged')
  const slot = await client.cluster('KEYSLOT', `{${env.queuePrefix}}`)
  for (const master of client.nodes('master')) {
    const [, keys] = await master.scan('0', 'MATCH', `{${env.queuePrefix}}:*`, 'COUNT', 10_000)
    for (const key of keys) t.equal(await master.cluster('KEYSLOT', key), slot, `${key} in slot ${slot}`)
  }
})

t.test('upload → thumbnails ready → links open; an expiring link opens, then is revoked; deletion removes rows and objects', async (t) => {
  const owner = await createTestUser(env.repos, 'Enterprise')
  const token = await login(owner)
  const ready = await whenReady(token, (await uploaded(token)).id)
  t.same(ready.thumbnails.map((x) => [x.height, x.status]), [[200, 'ready'], [400, 'ready']])
  for (const thumbnail of ready.thumbnails) t.equal((await fetch(thumbnail.url!)).status, 200, `${thumbnail.height} px link opens`)
  t.equal((await fetch(ready.original!.url)).status, 200, 'original link opens')

  const created = await fetch(`${base}/api/images/${ready.id}/links`, { method: 'POST', headers: { ...auth(token), 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 300, variant: 200 }) })
  t.equal(created.status, 201)
  const link = (await created.json()) as { id: string; url: string }
  t.equal((await fetch(link.url)).status, 200, 'the expiring link opens')
  t.equal((await fetch(`${base}/api/links/${link.id}`, { method: 'DELETE', headers: auth(token) })).status, 204)
  const revoked = await waitFor(async () => ((await fetch(link.url)).status === 410 ? 410 : undefined), { timeoutMs: 10_000, what: 'the revoked link to stop opening' })
  t.equal(revoked, 410, 'revoked: 410')

  const before = (await listObjectKeys(env.storage)).filter((key) => key.includes(ready.id))
  t.equal(before.length, 1 + 2 * FILES_PER_THUMBNAIL, 'the original and two thumbnails in every format stored')
  t.equal((await fetch(`${base}/api/images/${ready.id}`, { method: 'DELETE', headers: auth(token) })).status, 204)
  t.equal(await env.repos.images.findByOwner(ready.id, owner.user.id), undefined, 'rows gone')
  const left = await waitFor(async () => {
    const keys = (await listObjectKeys(env.storage)).filter((key) => key.includes(ready.id))
    return keys.length === 0 ? keys : undefined
  }, { timeoutMs: 10_000, what: 'objects removed' })
  t.same(left, [], 'objects gone')
  t.equal((await fetch(ready.thumbnails[0]!.url!)).status, 404, 'links die with the image')
})

t.test('admin queue control on the cluster: pause holds jobs, resume releases them, retry-failed re-renders failed thumbnails', async (t) => {
  const admin = await createTestUser(env.repos, 'Premium', { isAdmin: true })
  const token = await login(admin)

  t.equal((await fetch(`${base}/api/admin/queue/pause`, { method: 'POST', headers: auth(token) })).status, 200, 'paused')
  t.equal((await queueStatus(token)).paused, true)
  const held = await uploaded(token)
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  t.ok((await image(token, held.id)).thumbnails.every((x) => x.status === 'pending'), 'no work while paused')
  const status = await queueStatus(token)
  t.equal(status.counts.waiting! + status.counts.prioritized!, 1, 'the job waits in the queue')
  t.equal((await fetch(`${base}/api/admin/queue/resume`, { method: 'POST', headers: auth(token) })).status, 200, 'resumed')
  t.equal((await queueStatus(token)).paused, false)
  await whenReady(token, held.id)

  // an original the worker cannot decode fails for good; once a good file is in its place, a retry makes it
  const id = randomUUID()
  const key = `originals/${id}.jpg`
  const garbage = Buffer.concat([photo.subarray(0, 400), Buffer.alloc(2_000, 7)])
  await env.storage.putObject(key, garbage, garbage.length, 'image/jpeg')
  await env.repos.images.createWithThumbnails({ id, owner_id: admin.user.id, title: 'broken', format: 'jpeg', width: 640, height: 480, bytes: garbage.length, original_key: key }, [200, 400])
  await enqueueThumbnails(queue, { imageId: id })
  await waitFor(async () => ((await image(token, id)).thumbnails.every((x) => x.status === 'failed') ? true : undefined), { timeoutMs: 30_000, what: 'the broken image to fail' })
  t.equal(await (await queue.getJob(thumbnailJobId(id)))?.getState(), 'failed', 'its job failed')

  await env.storage.putObject(key, photo, photo.length, 'image/jpeg')
  const retried = await fetch(`${base}/api/admin/queue/retry-failed`, { method: 'POST', headers: auth(token) })
  t.equal(retried.status, 200)
  t.match(await retried.json(), { images: 1, thumbnails: 2 })
  await whenReady(token, id)
  t.pass('the retried thumbnails are ready')

  // the read-only dashboard reads the cluster too
  const session = await fetch(`${base}/api/admin/session`, { method: 'POST', headers: auth(token) })
  const cookie = session.headers.get('set-cookie')!.split(';')[0]!
  const dashboard = await fetch(`${base}/admin/queues/api/queues`, { headers: { cookie } })
  t.equal(dashboard.status, 200, 'bull-board answers')
  t.match(await dashboard.text(), /thumbnails/)
})

t.test('upload rate limits are counted on the cluster: the upload past the limit gets 429', async (t) => {
  const owner = await createTestUser(env.repos, 'Basic')
  const token = await login(owner)
  const statuses: number[] = []
  for (let i = 0; i <= UPLOADS_PER_USER; i++) statuses.push((await upload(token)).status)
  // a limit of L per window also holds at most ⌊L/2⌋ per half window (the burst bound, see rate-limits.ts):
  // back-to-back uploads get that many through
  const burst = Math.max(1, Math.floor(UPLOADS_PER_USER / 2))
  t.same(statuses, [...Array(burst).fill(201), ...Array(UPLOADS_PER_USER + 1 - burst).fill(429)])
  const client = await clusterClient(t)
  let counters = 0
  for (const master of client.nodes('master')) counters += (await master.scan('0', 'MATCH', `${env.queuePrefix}:rate:upload-user*${owner.user.id}*`, 'COUNT', 10_000))[1].length
  t.equal(counters, 2, "the user's two counters (window and burst), on the cluster")
})

t.test('a master killed -9 while uploads are queued loses no thumbnail: every one ends ready', async (t) => {
  const admin = await createTestUser(env.repos, 'Premium', { isAdmin: true })
  const adminToken = await login(admin)
  const owners = await Promise.all([0, 1].map(() => createTestUser(env.repos, 'Premium')))
  const tokens = await Promise.all(owners.map(login))
  const ids: string[] = []
  // paused, so the jobs are still queued on the master when it dies
  t.equal((await fetch(`${base}/api/admin/queue/pause`, { method: 'POST', headers: auth(adminToken) })).status, 200)
  for (let i = 0; i < 6; i++) ids.push((await uploaded(tokens[0]!)).id)
  const master = await cluster.masterOf(`{${env.queuePrefix}}`)
  await cluster.kill(master)
  // uploads while the queue's slot has no master: their jobs may never be written; the rows say what is owed
  for (let i = 0; i < 6; i++) ids.push((await uploaded(tokens[1]!)).id)
  await cluster.waitUntilOk()
  t.not(await cluster.masterOf(`{${env.queuePrefix}}`), master, 'a replica took over the slot')
  t.equal((await fetch(`${base}/api/admin/queue/resume`, { method: 'POST', headers: auth(adminToken) })).status, 200, 'resumed on the new master')

  for (const [i, id] of ids.entries()) await whenReady(tokens[i < 6 ? 0 : 1]!, id, 60_000)
  t.pass(`all ${ids.length} images have every thumbnail ready`)
  const thumbnails = (await listObjectKeys(env.storage)).filter((key) => key.startsWith('thumbnails/') && ids.some((id) => key.includes(id)))
  t.equal(thumbnails.length, ids.length * 2 * FILES_PER_THUMBNAIL, 'one object per thumbnail and format')
  const notQueued = gateway.logs.filter((line) => String(line.msg).startsWith('could not queue thumbnails')).length
  const requeued = worker.logs.filter((line) => line.msg === 'reconciled').reduce((sum, line) => sum + Number(line.requeued ?? 0), 0)
  t.comment(`during the failover: ${notQueued} uploads could not queue their job; the reconciler queued ${requeued} images again`)
  t.equal((await fetch(`${base}/readyz`)).status, 200, 'the gateway is ready again on the new master')
  t.equal(await worker.stop('SIGTERM'), 0, 'the worker still shuts down cleanly, closing its cluster connections')
  t.equal(await gateway.stop('SIGTERM'), 0, 'so does the gateway')
})
