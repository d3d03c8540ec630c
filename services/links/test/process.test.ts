import t from 'tap'
import { createTestEnvironment, startService } from '@imageapi/testkit'
import { ringEntry, seedImage, signerFor, userOnTier } from './helpers/links-fixture.js'

// The links service as its own process, the way production runs it: real HTTP, real shutdown.
const env = await createTestEnvironment(t)
const ring = ringEntry('proc')
const signer = signerFor(ring)
const owner = await userOnTier(env, 'Premium')
const image = await seedImage(env, owner, { format: 'png', title: 'over the wire', owed: [200, 400] })
const links = await startService(t, 'links', { ...env.env, LINK_SIGNING_KEYS: ring })
const base = links.url!
const token = signer.sign({ imageId: image.id, variant: 400 })

t.test('a link over real HTTP: 200 and the exact bytes', async (t) => {
  t.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, 'listens on its own port')
  const response = await fetch(`${base}/v/${token}`, { headers: { 'x-request-id': 'links-process-test-1' } })
  t.equal(response.status, 200)
  t.equal(response.headers.get('x-request-id'), 'links-process-test-1', 'the caller’s request id is echoed')
  t.equal(response.headers.get('content-type'), 'image/png')
  t.equal(response.headers.get('content-length'), String(image.thumbnails.get(400)!.length))
  t.same(Buffer.from(await response.arrayBuffer()), image.thumbnails.get(400), 'byte-exact')
  t.equal(response.headers.get('content-disposition'), 'inline; filename="over-the-wire-400.png"')

  const original = await fetch(`${base}/v/${signer.sign({ imageId: image.id, variant: 'original' })}`)
  t.equal(original.status, 200)
  t.same(Buffer.from(await original.arrayBuffer()), image.original, 'byte-exact original')

  const etag = response.headers.get('etag')!
  const conditional = await fetch(`${base}/v/${token}`, { headers: { 'if-none-match': etag } })
  t.equal(conditional.status, 304, 'conditional GET: 304')
  t.equal((await conditional.arrayBuffer()).byteLength, 0)

  const missing = await fetch(`${base}/v/${token.slice(0, -1)}B`)
  t.equal(missing.status, 404)
  t.same(await missing.json(), { detail: 'Not found.' })
})

t.test('HEAD over real HTTP: the object’s Content-Length, no body', async (t) => {
  const response = await fetch(`${base}/v/${token}`, { method: 'HEAD' })
  t.equal(response.status, 200)
  t.equal(response.headers.get('content-length'), String(image.thumbnails.get(400)!.length), 'Content-Length of the object, as GET')
  t.equal((await response.arrayBuffer()).byteLength, 0)
})

t.test('tokens never reach the logs', async (t) => {
  const mac = token.split('.')[2]!
  t.ok(links.output.length > 0, 'the service logged')
  t.notOk(links.output.some((line) => line.includes(mac)), 'no log line holds a token')
  t.ok(links.logs.some((entry) => String((entry.req as { url?: string } | undefined)?.url ?? '').includes('/v/[redacted]')), 'request paths are logged redacted')
})

t.test('SIGTERM: a clean exit with code 0', async (t) => {
  const code = await links.stop('SIGTERM')
  t.equal(code, 0)
  t.ok(links.logs.some((entry) => entry.msg === 'shutting down'), 'said it was shutting down')
})
