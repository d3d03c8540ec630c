import t from 'tap'
import { request } from 'node:http'
import { randomUUID } from 'node:crypto'
import { createThumbnailQueue, enqueueThumbnails } from '@imageapi/queue'
import { createTestEnvironment, createTestUser, jpegImage, multipartBody, pngImage, startService, waitFor } from '@imageapi/testkit'

const env = await createTestEnvironment(t)
const user = await createTestUser(env.repos, 'Premium')

t.test('SIGTERM to the gateway mid-upload: the upload finishes (201), then the process exits 0', async (t) => {
  const gateway = await startService(t, 'gateway', env.env)
  const login = await fetch(`${gateway.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: user.password }) })
  const { access } = (await login.json()) as { access: string }
  const { body, headers } = multipartBody({ title: 'in flight', image: { filename: 'slow.jpg', data: await jpegImage(1200, 900) } })

  const url = new URL('/api/images', gateway.url)
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, authorization: `Bearer ${access}`, connection: 'close' } }, (res) => {
      let text = ''
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode!, body: text }))
    })
    req.on('error', reject)
    // the body trickles in; the signal arrives half-way through it
    const half = Math.floor(body.length / 2)
    req.write(body.subarray(0, half))
    setTimeout(() => {
      gateway.process.kill('SIGTERM')
      setTimeout(() => req.end(body.subarray(half)), 500)
    }, 300)
  })
  const result = await response
  t.equal(result.status, 201, result.body)
  const id = (JSON.parse(result.body) as { id: string }).id
  t.ok(await env.repos.images.findByOwner(id, user.user.id), 'the image row was written')
  t.equal(await gateway.exited, 0, 'then the gateway exits 0')
})

t.test('SIGTERM to a worker mid-job: the job finishes, rows are ready, exit 0', async (t) => {
  const worker = await startService(t, 'thumbnail-worker', env.env)
  const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
  t.teardown(() => queue.close())
  const id = randomUUID()
  const original = await pngImage(4000, 3000)
  await env.storage.putObject(`originals/${id}.png`, original, original.length, 'image/png')
  await env.repos.images.createWithThumbnails({ id, owner_id: user.user.id, title: '', format: 'png', width: 4000, height: 3000, bytes: original.length, original_key: `originals/${id}.png` }, [200, 400])
  await enqueueThumbnails(queue, { imageId: id })
  await waitFor(async () => ((await queue.getJobCounts('active')).active === 1 ? true : undefined), { intervalMs: 20, what: 'the job to start' })

  worker.process.kill('SIGTERM')
  t.equal(await worker.exited, 0)
  const rows = (await env.repos.images.findByOwner(id, user.user.id))!.thumbnails
  t.same(rows.map((r) => [r.height, r.status]), [[200, 'ready'], [400, 'ready']], 'nothing half-written: every row ready')
  const renditions = await env.database.db.selectFrom('renditions').select(['height', 'format', 'status']).where('image_id', '=', id).orderBy('height').orderBy('format').execute()
  t.same(
    renditions.map((r) => [r.height, r.format, r.status]),
    [
      [200, 'webp', 'ready'],
      [400, 'webp', 'ready'],
    ],
    'every rendition ready too (WebP, the default)',
  )
  t.same(
    (await env.storage.listKeys(`thumbnails/${id}/`)).sort(),
    ['200.png', '200.webp', '400.png', '400.webp'].map((name) => `thumbnails/${id}/${name}`),
    'one file per height and format',
  )
  t.ok(worker.logs.some((l) => l.msg === 'shutting down'), 'it said why it stopped')
})

t.test('SIGTERM to the links service: exit 0', async (t) => {
  const links = await startService(t, 'links', env.env)
  t.equal(await links.stop('SIGTERM'), 0)
})
