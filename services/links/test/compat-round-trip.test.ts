import t from 'tap'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import { createTestEnvironment, createTestUser, jpegImage, multipartBody, startServices } from '@imageapi/testkit'
import { buildApp } from '../src/app.js'
import { loadLinksConfig } from '../src/config.js'
import { createClock, EXPIRED_BODY } from './helpers/links-fixture.js'

// A client written for the Django API we replace, unchanged, against the gateway: token (form
// fields) → upload small with expired_time → list → open the link → after expiry, 403 with their
// body. The gateway and a worker run as processes; this service runs here, on a clock the test moves.
const env = await createTestEnvironment(t)
const clock = createClock(Date.now())
const links = await buildApp({
  config: loadLinksConfig({ ...env.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', NODE_ENV: 'test' }),
  db: env.database.db,
  storage: env.storage,
  clock: clock.now,
})
t.teardown(() => links.close())
await links.listen({ host: '127.0.0.1', port: 0 })
const linksUrl = `http://127.0.0.1:${(links.server.address() as AddressInfo).port}`
const [gateway, worker] = await startServices(
  t,
  [
    // Only this service's clock moves: a gateway remembering an answer for its real-time window would
    // still answer within it after the jump, which real clocks (moving together) never see.
    { name: 'gateway', env: { ...env.env, LINKS_URL: linksUrl, VIEW_ANSWER_CACHE_BYTES: '0' } },
    { name: 'thumbnail-worker', env: env.env },
  ],
  { readyTimeoutMs: 60_000 },
)
const user = await createTestUser(env.repos, 'Enterprise')

/** One request on its own connection: a keep-alive pool would hold this process open after the test. */
function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', agent: false, headers: { connection: 'close', ...options.headers } }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }))
      response.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}
const json = (response: { body: Buffer }) => JSON.parse(response.body.toString())

t.test('token → upload small with expired_time → list → open → after expiry 403', async (t) => {
  const base = gateway.url!
  const token = await send(`${base}/api/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email: user.email, password: user.password }).toString(),
  })
  t.equal(token.status, 200)
  const auth = { authorization: `Bearer ${json(token).access}` }

  const { body, headers } = multipartBody({ title: 'Holiday', expired_time: '300', image: { filename: 'holiday.jpg', contentType: 'image/jpeg', data: await jpegImage(800, 600) } })
  const uploaded = await send(`${base}/api/upload/small/`, { method: 'POST', headers: { ...headers, ...auth }, body })
  t.equal(uploaded.status, 201, uploaded.body.toString())
  t.same(json(uploaded), { status: 'Uploaded' })

  const listed = await send(`${base}/api/list/`, { headers: auth })
  t.equal(listed.status, 200)
  const page = json(listed)
  t.equal(page.count, 1)
  const [entry] = page.results
  t.match(entry, { title: 'Holiday', resolution: '267x200' })
  t.match(entry.link, new RegExp(`^${base}/api/view/[A-Za-z0-9_.-]+/$`))
  const expiresAt = Date.parse(entry.expired_at)
  t.ok(Math.abs(expiresAt - (Date.now() + 300_000)) < 10_000, 'expired_at: 300 s after the upload')

  // at once, as their clients do: the upload answered only once the file existed
  const opened = await send(entry.link)
  t.equal(opened.status, 200)
  t.equal(opened.headers['content-type'], 'image/jpeg')
  t.match(opened.headers['content-disposition'], /^inline/)
  const meta = await sharp(opened.body).metadata()
  t.same([meta.width, meta.height], [267, 200])

  clock.ms = expiresAt
  const expired = await send(entry.link)
  t.equal(expired.status, 403)
  t.same(json(expired), EXPIRED_BODY)
  t.equal(json(await send(`${base}/api/list/`, { headers: auth })).count, 1, 'still listed, as there')
})

t.test('the processes stop cleanly', async (t) => {
  t.equal(await worker.stop('SIGTERM'), 0)
  t.equal(await gateway.stop('SIGTERM'), 0)
})
