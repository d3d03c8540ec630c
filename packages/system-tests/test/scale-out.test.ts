import t from 'tap'
import { createThumbnailQueue } from '@imageapi/queue'
import { createTestEnvironment, createTestUser, freePort, jpegImage, startNginx, startServices, waitFor, type TestUser } from '@imageapi/testkit'

// Two gateways, two links services and three workers as processes behind Debian's nginx on
// loopback, as a scaled-out deployment runs them.
//
// The gateways reach the links services through nginx too, on a second listener of the same nginx
// (LINKS_URL = nginx.linksUrl) in front of both links services: a gateway then never holds a
// connection to one particular links instance, and a dead links service is skipped by the same
// max_fails / proxy_next_upstream rules as a dead gateway. Pointing LINKS_URL at the public
// address would not do: /v/ there goes to a gateway, which would forward it to itself.
//
// Order: the checks that need every instance alive (shared rate limits, revocation everywhere)
// run first; then a paced load of uploads and views in which one gateway, one links service and
// one worker are killed with SIGKILL; then what must hold afterwards.

const LINK_CHECK_CACHE_MS = 1500
const UPLOAD_LIMIT_PER_USER = 10 // burst bound ⌊10/2⌋ = 5: room for the owner's 4 uploads
const RATE_LIMIT_WINDOW_SECONDS = 20
const LOAD_USERS = 10
const LOAD_UPLOADS = 40 // 4 per user: under the per-user limit whatever window they fall in
const WORKER_VICTIM_WAIT_MS = 3_000
const LOAD_VIEWS = 300
const LOAD_CONCURRENCY = 8
const LOAD_SECONDS = 20
const KILL_AT_MS = { gateway: 5_000, links: 9_000, worker: 13_000 }
const ENTERPRISE_HEIGHTS = [200, 400]

const env = await createTestEnvironment(t)
// nginx's ports are chosen first: the gateways must know the public address and the links listener
const publicPort = await freePort()
const linksPort = await freePort()
const publicUrl = `http://127.0.0.1:${publicPort}`
const linksViaProxy = `http://127.0.0.1:${linksPort}`

const linksEnv = { ...env.env, LINK_CHECK_CACHE_MS: String(LINK_CHECK_CACHE_MS) }
const gatewayEnv = {
  ...env.env,
  LINKS_URL: linksViaProxy,
  PUBLIC_URL: publicUrl,
  TRUST_PROXY: 'true',
  UPLOAD_RATE_LIMIT_PER_USER: String(UPLOAD_LIMIT_PER_USER),
  RATE_LIMIT_WINDOW_SECONDS: String(RATE_LIMIT_WINDOW_SECONDS),
}
// a killed worker's job comes back within seconds: its lock lapses, a stalled check or the reconciler queues it again
// (a lock long enough to outlast the short SIGSTOP of the other workers below)
const workerEnv = { ...env.env, WORKER_CONCURRENCY: '1', WORKER_LOCK_SECONDS: '5', WORKER_STALLED_INTERVAL_SECONDS: '2', RECONCILE_AFTER_SECONDS: '4', RECONCILE_INTERVAL_SECONDS: '2' }

const [links0, links1, gateway0, gateway1, worker0, worker1, worker2] = await startServices(
  t,
  [
    { name: 'links', env: linksEnv },
    { name: 'links', env: linksEnv },
    { name: 'gateway', env: gatewayEnv },
    { name: 'gateway', env: gatewayEnv },
    { name: 'thumbnail-worker', env: workerEnv },
    { name: 'thumbnail-worker', env: workerEnv },
    { name: 'thumbnail-worker', env: workerEnv },
  ] as const,
  { readyTimeoutMs: 60_000 },
)
const gateways = [gateway0, gateway1]
const linksServices = [links0, links1]
const nginx = await startNginx(t, {
  upstreams: { gateway: gateways.map((g) => g.url!), links: linksServices.map((l) => l.url!) },
  port: publicPort,
  linksPort,
})
// no assertion before the first t.test: tap would end the root test at it, tearing everything down
if (nginx.url !== publicUrl || nginx.linksUrl !== linksViaProxy) throw new Error(`nginx listens on ${nginx.url} and ${nginx.linksUrl}, not where PUBLIC_URL and LINKS_URL say`)

const photo = await jpegImage(1600, 1200)

async function login(user: TestUser): Promise<string> {
  const response = await fetch(`${publicUrl}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: user.password }) })
  if (response.status !== 200) throw new Error(`login ${user.email}: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { access: string }).access
}

interface UploadResult {
  status: number // 0: the connection failed
  id?: string
  upstream: string | null
  startedAt: number
}

async function upload(token: string, title: string): Promise<UploadResult> {
  const startedAt = Date.now()
  const form = new FormData()
  form.set('title', title)
  form.set('image', new Blob([photo]), `${title}.jpg`)
  try {
    const response = await fetch(`${publicUrl}/api/images`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
    const body = (await response.json().catch(() => ({}))) as { id?: string }
    return { status: response.status, id: body.id, upstream: response.headers.get('x-upstream-addr'), startedAt }
  } catch {
    return { status: 0, upstream: null, startedAt }
  }
}

async function view(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const response = await fetch(url, { headers })
    await response.arrayBuffer()
    return response.status
  } catch {
    return 0
  }
}

async function thumbnailRows(user: TestUser, id: string) {
  return (await env.repos.images.findByOwner(id, user.user.id))?.thumbnails.map((x) => ({ height: x.height, status: x.status })) ?? []
}

async function readyImage(token: string, user: TestUser, id: string): Promise<{ thumbnails: Array<{ url: string }> }> {
  await waitFor(async () => (await thumbnailRows(user, id)).every((x) => x.status === 'ready'), { timeoutMs: 30_000, intervalMs: 200, what: `thumbnails of ${id}` })
  const response = await fetch(`${publicUrl}/api/images/${id}`, { headers: { authorization: `Bearer ${token}` } })
  return (await response.json()) as { thumbnails: Array<{ url: string }> }
}

const owner = await createTestUser(env.repos, 'Enterprise')
const ownerToken = await login(owner)
// images whose links the load views; uploaded while everything is alive
const seedLinks: string[] = []
for (let i = 0; i < 3; i++) {
  const seeded = await upload(ownerToken, `seed ${i}`)
  if (seeded.status !== 201) throw new Error(`seed upload answered ${seeded.status}`)
  for (const thumbnail of (await readyImage(ownerToken, owner, seeded.id!)).thumbnails) seedLinks.push(thumbnail.url)
}

t.test('the upload limit per user holds across both gateways: from one user through the proxy, back-to-back uploads get exactly the burst bound through', async (t) => {
  const user = await createTestUser(env.repos, 'Enterprise')
  const token = await login(user)
  // a limit of L per window also holds at most ⌊L/2⌋ per half window (rate-limits.ts): attempts made
  // well within half a window get exactly that many through, counted once for both gateways
  const burst = Math.max(1, Math.floor(UPLOAD_LIMIT_PER_USER / 2))
  const started = Date.now()
  const attempts: UploadResult[] = []
  for (let i = 0; i < UPLOAD_LIMIT_PER_USER * 2; i++) attempts.push(await upload(token, `limited ${i}`))
  t.ok(Date.now() - started < (RATE_LIMIT_WINDOW_SECONDS * 1000) / 2, 'every attempt fell within half a window')
  t.same(new Set(attempts.map((a) => a.upstream)), new Set(gateways.map((g) => new URL(g.url!).host)), 'nginx spread the attempts over both gateways')
  t.equal(attempts.filter((a) => a.status === 201).length, burst, `${burst} accepted, not ${burst} per gateway`)
  t.equal(attempts.filter((a) => a.status === 429).length, UPLOAD_LIMIT_PER_USER * 2 - burst, 'the rest refused with 429')
  t.same(attempts.slice(0, burst).map((a) => a.status), Array(burst).fill(201), 'the first ones are the accepted ones')
})

t.test(`a revoked expiring link stops within LINK_CHECK_CACHE_MS (${LINK_CHECK_CACHE_MS} ms) on both links services, through both gateways and through nginx`, async (t) => {
  const image = await upload(ownerToken, 'to revoke')
  t.equal(image.status, 201)
  await readyImage(ownerToken, owner, image.id!)
  const created = await fetch(`${publicUrl}/api/images/${image.id}/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ seconds: 600, variant: 200 }),
  })
  t.equal(created.status, 201, 'an expiring link made')
  const link = (await created.json()) as { id: string; url: string }
  t.ok(link.url.startsWith(`${publicUrl}/v/`), 'on the public address')
  const path = new URL(link.url).pathname
  const targets = [
    ...gateways.map((g, i) => ({ name: `gateway ${i}`, url: `${g.url}${path}` })),
    ...linksServices.map((l, i) => ({ name: `links ${i}`, url: `${l.url}${path}` })),
    { name: 'nginx', url: link.url },
  ]
  // every cache on the way (the links services' rights checks, the gateways' answers) holds the link as live
  for (let round = 0; round < 3; round++) {
    for (const target of targets) t.equal(await view(target.url), 200, `${target.name}: the live link opens`)
  }

  const revoked = await fetch(`${publicUrl}/api/links/${link.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ownerToken}` } })
  t.equal(revoked.status, 204, 'revoked')
  const revokedAt = Date.now()
  // the bound, plus a little for the answer to travel
  await new Promise((resolve) => setTimeout(resolve, LINK_CHECK_CACHE_MS + 200))
  for (const target of targets) t.equal(await view(target.url), 410, `${target.name}: 410 once the bound has passed`)
  // through nginx a second and third time: the other gateway too
  for (let i = 0; i < 2; i++) t.equal(await view(link.url), 410, 'nginx: 410 again')
  t.ok(Date.now() - revokedAt < LINK_CHECK_CACHE_MS + 5_000, 'checked right after the bound')
})

t.test('load through nginx while one gateway, one links service and one worker are killed (SIGKILL)', async (t) => {
  const users = await Promise.all(Array.from({ length: LOAD_USERS }, () => createTestUser(env.repos, 'Enterprise')))
  const tokens = await Promise.all(users.map(login))
  // half the views ask for a byte range: the gateway never answers those from memory, so they
  // reach a links service whatever the gateways' answer cache holds
  type Task = { kind: 'upload'; user: number; n: number } | { kind: 'view'; url: string; ranged: boolean }
  const tasks: Task[] = [
    ...Array.from({ length: LOAD_UPLOADS }, (_, n): Task => ({ kind: 'upload', user: n % LOAD_USERS, n })),
    ...Array.from({ length: LOAD_VIEWS }, (_, n): Task => ({ kind: 'view', url: seedLinks[n % seedLinks.length]!, ranged: n % 2 === 1 })),
  ]
  // a fixed shuffle, so uploads and views mix evenly over the run
  for (let i = tasks.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1)
    ;[tasks[i], tasks[j]] = [tasks[j]!, tasks[i]!]
  }

  const started = Date.now()
  const killedAt: Record<keyof typeof KILL_AT_MS, number> = { gateway: 0, links: 0, worker: 0 }
  let jobKilledMidWork: string | undefined
  /**
   * A worker killed while idle loses nothing by luck. So the other two are paused (SIGSTOP) until
   * worker 0 takes a new job, and worker 0 is killed with that job in hand; the others go on
   * (SIGCONT). Returns the job's id, undefined if worker 0 took none in time.
   */
  const killWorkerWithAJobInHand = async (): Promise<string | undefined> => {
    const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
    const activeIds = async () => new Set((await queue.getActive()).map((job) => job.id!))
    const others = [worker1, worker2]
    let jobId: string | undefined
    try {
      const before = await activeIds()
      for (const worker of others) worker.process.kill('SIGSTOP')
      const deadline = Date.now() + WORKER_VICTIM_WAIT_MS
      while (jobId === undefined && Date.now() < deadline) {
        jobId = [...(await activeIds())].find((id) => !before.has(id))
        if (jobId === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
      }
      await worker0.stop('SIGKILL')
    } finally {
      for (const worker of others) worker.process.kill('SIGCONT')
      await queue.close()
    }
    return jobId
  }
  const kills = [
    (async () => {
      await new Promise((resolve) => setTimeout(resolve, KILL_AT_MS.gateway))
      killedAt.gateway = Date.now()
      await gateway0.stop('SIGKILL')
    })(),
    (async () => {
      await new Promise((resolve) => setTimeout(resolve, KILL_AT_MS.links))
      killedAt.links = Date.now()
      await links0.stop('SIGKILL')
    })(),
    (async () => {
      await new Promise((resolve) => setTimeout(resolve, KILL_AT_MS.worker))
      killedAt.worker = Date.now()
      jobKilledMidWork = await killWorkerWithAJobInHand()
    })(),
  ]

  const uploads: Array<UploadResult & { user: number }> = []
  const views: Array<{ status: number; expected: number; startedAt: number }> = []
  const paceMs = (LOAD_SECONDS * 1000) / tasks.length
  let next = 0
  await Promise.all(
    Array.from({ length: LOAD_CONCURRENCY }, async () => {
      while (next < tasks.length) {
        const index = next++
        const task = tasks[index]!
        // paced: task i starts no earlier than i × pace, so the load spans the kills
        const due = started + index * paceMs - Date.now()
        if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
        if (task.kind === 'upload') uploads.push({ ...(await upload(tokens[task.user]!, `load ${task.n}`)), user: task.user })
        else views.push({ startedAt: Date.now(), expected: task.ranged ? 206 : 200, status: await view(task.url, task.ranged ? { range: 'bytes=0-99' } : {}) })
      }
    }),
  )
  await Promise.all(kills)
  const tally = (statuses: number[]) => [...statuses.reduce((m, s) => m.set(s, (m.get(s) ?? 0) + 1), new Map<number, number>())].map(([s, n]) => `${n}× ${s || 'connection failed'}`).join(', ')
  t.comment(`load ran ${Date.now() - started} ms; uploads: ${tally(uploads.map((u) => u.status))}; views: ${tally(views.map((v) => v.status))}`)
  t.equal(uploads.length + views.length, tasks.length, 'every request of the load was made')
  t.ok(Date.now() - started >= KILL_AT_MS.worker, 'the load spanned the three kills')
  t.ok(jobKilledMidWork, `the worker was killed with a job in hand (${jobKilledMidWork})`)

  const accepted = uploads.filter((u) => u.status === 201)
  t.ok(accepted.length >= LOAD_UPLOADS / 2, `most uploads accepted (${accepted.length} of ${LOAD_UPLOADS})`)
  // a request in flight on the killed gateway may fail; one started after the kill goes to the live one
  const afterGatewayKill = uploads.filter((u) => u.startedAt > killedAt.gateway + 1_000)
  t.ok(afterGatewayKill.length > 0, 'uploads were made after the gateway died')
  t.same(afterGatewayKill.filter((u) => u.status !== 201).map((u) => u.status), [], 'every upload started a second after the gateway kill got 201')
  const lastKill = Math.max(killedAt.gateway, killedAt.links)
  const viewsAfterKills = views.filter((v) => v.startedAt > lastKill + 1_000)
  t.ok(viewsAfterKills.length > 0, 'views were made after the gateway and links kills')
  t.same(viewsAfterKills.filter((v) => v.status !== v.expected).map((v) => v.status), [], 'every view started a second after the kills answered 200 (206 when ranged)')

  t.test('every upload that got 201 has all its thumbnails ready (Postgres rows)', async (t) => {
    const waitStarted = Date.now()
    await waitFor(
      async () => {
        for (const u of accepted) {
          if (!(await thumbnailRows(users[u.user]!, u.id!)).every((x) => x.status === 'ready')) return false
        }
        return true
      },
      { timeoutMs: 45_000, intervalMs: 500, what: 'every accepted upload to have ready thumbnails' },
    )
    t.comment(`ready ${Date.now() - waitStarted} ms after the load`)
    for (const u of accepted) {
      t.same(await thumbnailRows(users[u.user]!, u.id!), ENTERPRISE_HEIGHTS.map((height) => ({ height, status: 'ready' })), `${u.id}: 200 and 400 px ready`)
    }
  })

  t.test('after the kills, views of every live link through nginx succeed: a run of consecutive 200s', async (t) => {
    const links: string[] = [...seedLinks]
    for (const u of accepted) {
      const response = await fetch(`${publicUrl}/api/images/${u.id}`, { headers: { authorization: `Bearer ${tokens[u.user]}` } })
      t.equal(response.status, 200, `${u.id} listed through the live gateway`)
      for (const thumbnail of ((await response.json()) as { thumbnails: Array<{ url: string }> }).thumbnails) links.push(thumbnail.url)
    }
    // most of these are first views, so the live gateway forwards them to the live links service
    const statuses: number[] = []
    for (const url of links) statuses.push(await view(url))
    t.ok(statuses.length >= 2 * accepted.length, `${statuses.length} views`)
    t.same(statuses.filter((s) => s !== 200), [], 'all 200')
  })
})

t.test('the killed instances are gone and the others still run', async (t) => {
  for (const service of [gateway0, links0, worker0]) t.equal(service.process.signalCode, 'SIGKILL', `${service.name} was killed`)
  for (const service of [gateway1, links1, worker1, worker2]) t.equal(service.process.exitCode ?? service.process.signalCode, null, `a ${service.name} still runs`)
})
