import t from 'tap'
import { createTestEnvironment, createTestUser, jpegImage, startService, waitFor } from '@imageapi/testkit'

/** Files a thumbnail is stored as by default: its source format and WebP (AVIF is off by default). */
const FILES_PER_THUMBNAIL = 2

const UPLOADS = 200
const USERS = 10
// The gateway's only refusals of a well-formed upload are its rate limits (429); its upload
// memory (UPLOAD_BUFFER_BYTES) makes uploads wait, never refuses them. Set here as the defaults are,
// both above what this test sends in one window: 20 uploads per user, 200 from one IP address.
const UPLOAD_RATE_LIMIT_PER_USER = 120
const UPLOAD_RATE_LIMIT_PER_IP = 600
t.ok(UPLOADS / USERS < UPLOAD_RATE_LIMIT_PER_USER && UPLOADS < UPLOAD_RATE_LIMIT_PER_IP, 'the load stays within the rate limits')

const env = await createTestEnvironment(t)
const gateway = await startService(t, 'gateway', {
  ...env.env,
  UPLOAD_RATE_LIMIT_PER_USER: String(UPLOAD_RATE_LIMIT_PER_USER),
  UPLOAD_RATE_LIMIT_PER_IP: String(UPLOAD_RATE_LIMIT_PER_IP),
})
const workers = [await startService(t, 'thumbnail-worker', env.env), await startService(t, 'thumbnail-worker', env.env)]

const users = await Promise.all(Array.from({ length: USERS }, () => createTestUser(env.repos, 'Premium')))
const tokens = await Promise.all(
  users.map(async (user) => {
    const response = await fetch(`${gateway.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: user.password }) })
    return ((await response.json()) as { access: string }).access
  }),
)
const photos = await Promise.all([jpegImage(1600, 1200), jpegImage(1200, 1600), jpegImage(2000, 1000)])

t.test(`${UPLOADS} concurrent uploads within the rate limits: all ${UPLOADS} accepted (201), and every image gets all its thumbnails`, async (t) => {
  const started = Date.now()
  const results = await Promise.all(
    Array.from({ length: UPLOADS }, async (_, i) => {
      const form = new FormData()
      form.set('title', `load ${i}`)
      form.set('image', new Blob([photos[i % photos.length]!]), `photo-${i}.jpg`)
      const response = await fetch(`${gateway.url}/api/images`, { method: 'POST', headers: { authorization: `Bearer ${tokens[i % USERS]}` }, body: form })
      return { status: response.status, body: (await response.json()) as { id?: string; message?: string } }
    }),
  )
  const byStatus = new Map<number, number>()
  for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1)
  t.comment(`answers after ${Date.now() - started} ms: ${[...byStatus].map(([s, n]) => `${n}× ${s}`).join(', ')}`)

  t.same(Object.fromEntries(byStatus), { 201: UPLOADS }, `every one of the ${UPLOADS} uploads accepted`)
  for (const r of results.filter((x) => x.status !== 201)) t.fail(`refused with ${r.status}: ${r.body.message}`)
  const accepted = results.filter((r) => r.status === 201).map((r) => r.body.id!)
  t.equal(new Set(accepted).size, UPLOADS, 'each with its own image id')
  const stored = await Promise.all(users.map(async (user) => (await env.repos.images.listByOwner(user.user.id, { limit: 100 })).images.length))
  t.same(stored, users.map(() => UPLOADS / USERS), `${UPLOADS / USERS} image rows per user`)

  await waitFor(
    async () => {
      for (const [i, user] of users.entries()) {
        const page = await env.repos.images.listByOwner(user.user.id, { limit: 100 })
        if (page.images.some((image) => image.thumbnails.some((x) => x.status !== 'ready'))) return undefined
        if (i === users.length - 1) return true
      }
      return undefined
    },
    { timeoutMs: 180_000, intervalMs: 1000, what: 'every accepted image to have all its thumbnails' },
  )
  const keys = await env.storage.listKeys('thumbnails/')
  t.equal(keys.length, accepted.length * 2 * FILES_PER_THUMBNAIL, 'exactly one object per thumbnail and format')
  const byWorker = workers.map((w) => w.logs.filter((l) => l.msg === 'thumbnails done').length)
  t.comment(`${accepted.length} accepted images made ready in ${Date.now() - started} ms; jobs per worker: ${byWorker.join(', ')}`)
})
