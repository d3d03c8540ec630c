import t from 'tap'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import {
  createTestEnvironment,
  createTestUser,
  freePort,
  jpegImage,
  listObjectKeys,
  REPO_ROOT,
  startPgBouncer,
  startService,
  startServices,
  startTcpProxy,
  waitFor,
  type AdminRow,
} from '@imageapi/testkit'
import { createDatabase, isDatabaseUnavailable, pingDatabase, type Kysely } from '@imageapi/db'

// Every service reaches Postgres only through a PgBouncer of this test's own in transaction mode,
// with fewer server connections than the services hold client connections; the migrations ran
// directly (createTestEnvironment migrates the test's database before the pooler exists).
const POOL_SIZE = 4
const env = await createTestEnvironment(t)
const bouncer = await startPgBouncer(t, { databaseUrl: env.database.url, poolMode: 'transaction', poolSize: POOL_SIZE })
const pooled = { ...env.env, DATABASE_URL: bouncer.databaseUrl }
const [links, worker] = await startServices(t, [
  // a short rights-check cache so a revocation shows within the test
  { name: 'links', env: { ...pooled, LINK_CHECK_CACHE_MS: '200' } },
  { name: 'thumbnail-worker', env: { ...pooled, WORKER_CONCURRENCY: '2' } },
] as const)
// every view goes through to the links service and its database check; the gateway's own pool
// is capped by DATABASE_POOL_MAX, the others keep their defaults (10, WORKER_CONCURRENCY + 2)
const GATEWAY_POOL_MAX = 6
const gateway = await startService(t, 'gateway', { ...pooled, LINKS_URL: links.url!, VIEW_ANSWER_CACHE_BYTES: '0', DATABASE_POOL_MAX: String(GATEWAY_POOL_MAX) })
const user = await createTestUser(env.repos, 'Enterprise')
const admin = await createTestUser(env.repos, 'Enterprise', { isAdmin: true })

interface ImageBody {
  id: string
  thumbnails: Array<{ height: number; status: string; url: string | null }>
  original: { url: string } | null
}

async function login(who: { email: string; password: string }): Promise<string> {
  const response = await fetch(`${gateway.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: who.email, password: who.password }) })
  if (response.status !== 200) throw new Error(`login ${response.status}: ${await response.text()}`)
  return ((await response.json()) as { access: string }).access
}

const access = await login(user)
const adminAccess = await login(admin)
const asUser = { authorization: `Bearer ${access}` }
const asAdmin = { authorization: `Bearer ${adminAccess}`, 'content-type': 'application/json' }

async function upload(name: string): Promise<Response> {
  const form = new FormData()
  form.set('image', new Blob([await jpegImage(300, 200)]), name)
  return fetch(`${gateway.url}/api/images`, { method: 'POST', headers: asUser, body: form })
}

async function getImage(id: string): Promise<ImageBody> {
  return (await (await fetch(`${gateway.url}/api/images/${id}`, { headers: asUser })).json()) as ImageBody
}

async function waitForThumbnails(id: string, heights: number[]): Promise<ImageBody> {
  return waitFor(async () => {
    const image = await getImage(id)
    const ready = image.thumbnails.filter((x) => x.status === 'ready').map((x) => x.height)
    return heights.every((height) => ready.includes(height)) ? image : undefined
  }, { what: `thumbnails ${heights.join(', ')} of ${id} to be ready`, timeoutMs: 30_000, intervalMs: 200 })
}

async function openedStatus(url: string): Promise<number> {
  const response = await fetch(url)
  await response.arrayBuffer()
  return response.status
}

/** The pooler's row for the test's database in an admin console SHOW listing. */
function ofDatabase(rows: AdminRow[]): AdminRow[] {
  return rows.filter((row) => row.database === env.database.name)
}

const SERVER_STATES = ['sv_active', 'sv_idle', 'sv_used', 'sv_tested', 'sv_login'] as const

let imageId = ''

t.test('an upload through PgBouncer gets its thumbnails made, and its thumbnail and original links open', async (t) => {
  const created = await upload('first.jpg')
  t.equal(created.status, 201)
  imageId = ((await created.json()) as { id: string }).id
  const image = await waitForThumbnails(imageId, [200, 400])
  for (const thumbnail of image.thumbnails) t.equal(await openedStatus(thumbnail.url!), 200, `the ${thumbnail.height} px link opens`)
  t.equal(await openedStatus(image.original!.url), 200, 'the original link opens')
  const listing = (await (await fetch(`${gateway.url}/api/images`, { headers: asUser })).json()) as { items: Array<{ id: string }> }
  t.same(listing.items.map((item) => item.id), [imageId], 'the listing shows the image')
})

t.test('an expiring link through PgBouncer is created, listed, opened, and answers 410 once revoked', async (t) => {
  const created = await fetch(`${gateway.url}/api/images/${imageId}/links`, { method: 'POST', headers: { ...asUser, 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 600, variant: 200 }) })
  t.equal(created.status, 201)
  const link = (await created.json()) as { id: string; url: string }
  const listed = (await (await fetch(`${gateway.url}/api/images/${imageId}/links`, { headers: asUser })).json()) as { items: Array<{ id: string }> }
  t.same(listed.items.map((item) => item.id), [link.id], 'the live links list it')
  t.equal(await openedStatus(link.url), 200, 'it opens')
  const revoked = await fetch(`${gateway.url}/api/links/${link.id}`, { method: 'DELETE', headers: asUser })
  t.equal(revoked.status, 204)
  const status = await waitFor(async () => ((await openedStatus(link.url)) === 410 ? 410 : undefined), { what: 'the revoked link to answer 410', timeoutMs: 5_000, intervalMs: 100 })
  t.equal(status, 410, 'it answers 410 once revoked')
  const after = (await (await fetch(`${gateway.url}/api/images/${imageId}/links`, { headers: asUser })).json()) as { items: unknown[] }
  t.same(after.items, [], 'the live links no longer list it')
})

t.test("an admin moving the user to a tier with a new height starts a backfill that the worker finishes through PgBouncer", async (t) => {
  const tierName = `Pooled-${randomBytes(3).toString('hex')}`
  const tier = await fetch(`${gateway.url}/api/admin/tiers`, {
    method: 'POST',
    headers: asAdmin,
    body: JSON.stringify({ name: tierName, thumbnail_heights: [200, 300, 400], original_link: true, expiring_links: true }),
  })
  t.equal(tier.status, 201, 'the tier is created')
  const moved = await fetch(`${gateway.url}/api/admin/users/${user.user.id}`, { method: 'PATCH', headers: asAdmin, body: JSON.stringify({ tier: tierName }) })
  t.equal(moved.status, 200)
  const { backfill } = (await moved.json()) as { backfill: { id: string; heights: number[]; images: number } | null }
  t.same(backfill && { heights: backfill.heights, images: backfill.images }, { heights: [300], images: 1 }, 'the backfill owes the new height for the one image')
  const progress = await waitFor(async () => {
    const body = (await (await fetch(`${gateway.url}/api/admin/backfills/${backfill!.id}`, { headers: asAdmin })).json()) as { finished: boolean; done: number; total: number; failed: number }
    return body.finished ? body : undefined
  }, { what: 'the backfill to finish', timeoutMs: 30_000, intervalMs: 200 })
  t.same({ done: progress.done, failed: progress.failed, total: progress.total }, { done: 1, failed: 0, total: 1 })
  const image = await getImage(imageId)
  const added = image.thumbnails.find((x) => x.height === 300)
  t.equal(added?.status, 'ready', 'the image has its 300 px thumbnail')
  t.equal(await openedStatus(added!.url!), 200, 'and its link opens')
})

t.test(`a burst of 30 concurrent requests through ${POOL_SIZE} server connections all succeed; the pooler served more clients than it opened servers`, async (t) => {
  let maxServers = 0
  let maxClients = 0
  let maxWaiting = 0
  let bursting = true
  // bounded: the burst ends within the fetches' own time, and the loop stops with it
  const sampling = (async () => {
    for (let samples = 0; bursting && samples < 300; samples++) {
      const [pool] = ofDatabase(await bouncer.admin('SHOW POOLS'))
      if (pool) {
        maxServers = Math.max(maxServers, SERVER_STATES.reduce((sum, state) => sum + Number(pool[state]), 0))
        maxClients = Math.max(maxClients, Number(pool.cl_active) + Number(pool.cl_waiting))
        maxWaiting = Math.max(maxWaiting, Number(pool.cl_waiting))
      }
    }
  })()
  const image = await getImage(imageId)
  const viewUrls = image.thumbnails.map((x) => x.url!).concat(image.original!.url)
  const requests: Array<() => Promise<Response>> = [
    ...Array.from({ length: 6 }, (_, i) => () => upload(`burst-${i}.jpg`)),
    ...Array.from({ length: 12 }, () => () => fetch(`${gateway.url}/api/images?limit=5`, { headers: asUser })),
    ...Array.from({ length: 6 }, () => () => fetch(`${gateway.url}/api/images/${imageId}`, { headers: asUser })),
    ...Array.from({ length: 6 }, (_, i) => () => fetch(viewUrls[i % viewUrls.length]!)),
  ]
  const responses = await Promise.all(requests.map((request) => request()))
  bursting = false
  await sampling
  const statuses = responses.map((response) => response.status)
  t.same(statuses.filter((status) => status !== 200 && status !== 201), [], 'no request failed')
  t.equal(statuses.filter((status) => status === 201).length, 6, 'every upload was accepted')
  const uploaded = await Promise.all(responses.slice(0, 6).map(async (response) => ((await response.json()) as { id: string }).id))
  for (const response of responses.slice(6)) await response.arrayBuffer()
  for (const id of uploaded) await waitForThumbnails(id, [200, 300, 400])
  t.pass('every burst upload got all its thumbnails')

  const servers = ofDatabase(await bouncer.admin('SHOW SERVERS'))
  const clients = ofDatabase(await bouncer.admin('SHOW CLIENTS'))
  t.ok(servers.length >= 1 && servers.length <= POOL_SIZE, `the pooler holds ${servers.length} server connections, at most ${POOL_SIZE}`)
  t.ok(maxServers <= POOL_SIZE, `at most ${POOL_SIZE} server connections during the burst (peak ${maxServers})`)
  t.ok(clients.length > POOL_SIZE, `the services hold ${clients.length} client connections, more than the ${POOL_SIZE} servers`)
  const gatewayClients = clients.filter((client) => client.application_name === 'imageapi-gateway').length
  t.ok(gatewayClients >= 1 && gatewayClients <= GATEWAY_POOL_MAX, `the gateway holds ${gatewayClients} of them, at most its DATABASE_POOL_MAX ${GATEWAY_POOL_MAX}`)
  t.ok(maxClients > POOL_SIZE, `during the burst up to ${maxClients} client connections were open at once (${maxWaiting} at most queued for a server)`)
  // Postgres' own count, beside the pooler's: every backend on the test's database that is not the test's direct pool
  const activity = await (env.database.db as unknown as Kysely<any>)
    .selectFrom('pg_stat_activity')
    .select('pid')
    .where('datname', '=', env.database.name)
    .where((eb) => eb.or([eb('application_name', 'is', null), eb('application_name', '<>', 'imageapi-test')]))
    .execute()
  t.ok(activity.length <= POOL_SIZE, `Postgres sees ${activity.length} connections from the pooler, at most ${POOL_SIZE}`)
  const [stats] = ofDatabase(await bouncer.admin('SHOW STATS'))
  t.ok(Number(stats?.total_xact_count) > Number(servers.length), `the pooler ran ${stats?.total_xact_count} transactions on ${servers.length} server connections`)
})

t.test('deleting an image through PgBouncer removes it from the listing, its links stop opening and its objects go', async (t) => {
  const image = await getImage(imageId)
  const deleted = await fetch(`${gateway.url}/api/images/${imageId}`, { method: 'DELETE', headers: asUser })
  t.equal(deleted.status, 204)
  t.equal((await fetch(`${gateway.url}/api/images/${imageId}`, { headers: asUser })).status, 404)
  const listing = (await (await fetch(`${gateway.url}/api/images?limit=100`, { headers: asUser })).json()) as { items: Array<{ id: string }> }
  t.notOk(listing.items.some((item) => item.id === imageId), 'the listing no longer shows it')
  const statuses = await waitFor(async () => {
    const opened = await Promise.all(image.thumbnails.map((x) => openedStatus(x.url!)).concat(openedStatus(image.original!.url)))
    return opened.every((status) => status === 404) ? opened : undefined
  }, { what: 'the deleted image links to answer 404', timeoutMs: 5_000, intervalMs: 100 })
  t.ok(statuses.every((status) => status === 404), 'every link of it answers 404')
  const remaining = await waitFor(async () => {
    const keys = (await listObjectKeys(env.storage)).filter((key) => key.includes(imageId))
    return keys.length === 0 ? keys : undefined
  }, { what: 'the deleted image objects to go', timeoutMs: 10_000, intervalMs: 200 })
  t.same(remaining, [], 'no object of it is left')
  for (const service of [gateway, links, worker]) t.equal(service.process.exitCode, null, `${service.name} is still running`)
})

t.test('imageapi migrate connects to DATABASE_MIGRATION_URL, not the pooled DATABASE_URL', async (t) => {
  const run = promisify(execFile)
  const migrate = (extra: Record<string, string>) =>
    run(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', 'packages/cli/src/main.ts', 'migrate'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...extra },
      timeout: 30_000,
    }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    )
  // a DATABASE_URL nobody answers on proves which URL the migration used
  const nowhere = new URL(bouncer.databaseUrl)
  nowhere.port = String(await freePort())
  const direct = await migrate({ DATABASE_URL: nowhere.toString(), DATABASE_MIGRATION_URL: env.database.url })
  t.equal(direct.code, 0, direct.stderr)
  t.match(direct.stdout, 'the schema is up to date')
  const invalid = await migrate({ DATABASE_URL: bouncer.databaseUrl, DATABASE_MIGRATION_URL: 'mysql://nope' })
  t.equal(invalid.code, 1)
  t.match(invalid.stderr, 'DATABASE_MIGRATION_URL')
})

t.test('a service given a DATABASE_POOL_MAX that is not a whole number from 1 stops, naming the variable', async (t) => {
  const failure = await startService(t, 'links', { ...pooled, DATABASE_POOL_MAX: '0' }, { readyTimeoutMs: 20_000 }).then(
    () => undefined,
    (error: Error) => error.message,
  )
  t.match(failure, /exited \(1\) before it was ready/)
  t.match(failure, 'DATABASE_POOL_MAX')
})

t.test('with Postgres unreachable behind PgBouncer, pooled queries fail as "database unavailable" and the process survives the pooler dropping them', async (t) => {
  // a pooler of its own, reaching Postgres through a proxy this test can cut
  const proxy = await startTcpProxy(t, { host: '127.0.0.1', port: Number(new URL(env.database.url).port || 5432) })
  const direct = new URL(env.database.url)
  direct.port = String(proxy.port)
  const outageBouncer = await startPgBouncer(t, { databaseUrl: direct.toString(), poolSize: 2, queryWaitTimeoutSeconds: 1 })
  const db = createDatabase(outageBouncer.databaseUrl, { max: 2, applicationName: 'imageapi-test-outage' })
  t.teardown(() => db.destroy())
  await pingDatabase(db)
  proxy.cut()
  // PgBouncer answers the first with query_wait_timeout (08P01) and closes that client's
  // connection at once: node-postgres emits 'error' on a client still checked out, which used to
  // crash the process; the next query finds the pooler refusing or the connection gone
  const failures: unknown[] = []
  for (let attempt = 0; attempt < 3; attempt++) {
    const failed = await pingDatabase(db).then(() => undefined, (error: unknown) => error)
    failures.push(failed)
  }
  t.equal(failures.filter((failure) => failure === undefined).length, 0, 'no query succeeded while Postgres was unreachable')
  t.ok(failures.every((failure) => isDatabaseUnavailable(failure)), `every failure counts as "database unavailable": ${failures.map((failure) => (failure as Error).message).join('; ')}`)
  t.ok(failures.some((failure) => (failure as { code?: string }).code === '08P01'), 'PgBouncer reported it with SQLSTATE 08P01')
  proxy.restore()
})
