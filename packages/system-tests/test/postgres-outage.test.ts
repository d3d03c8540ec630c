import t from 'tap'
import { createTestEnvironment, createTestUser, jpegImage, startService, startTcpProxy, waitFor } from '@imageapi/testkit'

// The services reach Postgres through a proxy of this test's own: cutting it is, for them, Postgres
// going away and coming back, without disturbing the server every other test file uses.
const env = await createTestEnvironment(t)
const proxy = await startTcpProxy(t, { host: '127.0.0.1', port: 5432 })
const viaProxy = new URL(env.database.url)
viaProxy.port = String(proxy.port)
const services = { ...env.env, DATABASE_URL: viaProxy.toString() }
const links = await startService(t, 'links', services)
const gateway = await startService(t, 'gateway', { ...services, LINKS_URL: links.url! })
const worker = await startService(t, 'thumbnail-worker', services)
const user = await createTestUser(env.repos, 'Premium')

async function login(): Promise<Response> {
  return fetch(`${gateway.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: user.password }) })
}

t.test('while Postgres is away: 503 JSON from every service (a login, a listing, readiness, a link never opened), no crash; afterwards they recover by themselves', async (t) => {
  const { access } = (await (await login()).json()) as { access: string }
  const form = new FormData()
  form.set('image', new Blob([await jpegImage(300, 200)]), 'a.jpg')
  const created = (await (await fetch(`${gateway.url}/api/images`, { method: 'POST', headers: { authorization: `Bearer ${access}` }, body: form })).json()) as { id: string }
  const ready = await waitFor(async () => {
    const body = (await (await fetch(`${gateway.url}/api/images/${created.id}`, { headers: { authorization: `Bearer ${access}` } })).json()) as { thumbnails: Array<{ status: string; url: string }> }
    return body.thumbnails.every((x) => x.status === 'ready') ? body : undefined
  }, { what: 'thumbnails before the outage' })
  const link = ready.thumbnails[0]!.url

  proxy.cut()
  const during = [
    await login(),
    await fetch(`${gateway.url}/api/images`, { headers: { authorization: `Bearer ${access}` } }),
    await fetch(`${gateway.url}/readyz`),
    await fetch(`${worker.url}/readyz`),
  ]
  for (const response of during) {
    t.equal(response.status, 503, response.url)
    t.match(response.headers.get('content-type'), /application\/json/, response.url)
  }
  // A link checked within the last LINK_CHECK_CACHE_MS may still be answered from memory (the
  // gateway's view answers, the links service's rights checks). This one was never opened, so no
  // service has anything for it in memory: opening it needs Postgres, and that is a 503 JSON error.
  const view = await fetch(link)
  t.equal(view.status, 503, 'a view link never opened before the outage: 503')
  t.match(view.headers.get('content-type'), /application\/json/)
  t.equal(view.headers.get('retry-after'), '5', 'with Retry-After')
  t.match(await view.json(), { statusCode: 503, message: /temporarily unavailable/ }, 'and a JSON error body')
  t.match(((await (await fetch(`${gateway.url}/readyz`)).json()) as { message: string }).message, 'postgres')

  proxy.restore()
  const after = await waitFor(async () => {
    const response = await login()
    return response.status === 200 ? response : undefined
  }, { what: 'logins to work again', timeoutMs: 20_000 })
  t.equal(after.status, 200)
  t.equal((await fetch(`${gateway.url}/readyz`)).status, 200)
  await waitFor(async () => ((await fetch(link)).status === 200 ? true : undefined), { what: 'links to open again' })

  const second = new FormData()
  second.set('image', new Blob([await jpegImage(300, 200)]), 'b.jpg')
  const uploaded = await fetch(`${gateway.url}/api/images`, { method: 'POST', headers: { authorization: `Bearer ${access}` }, body: second })
  t.equal(uploaded.status, 201, 'uploads work again')
  const id = ((await uploaded.json()) as { id: string }).id
  await waitFor(async () => ((await env.repos.images.findByOwner(id, user.user.id))!.thumbnails.every((x) => x.status === 'ready') ? true : undefined), { what: 'the worker to recover' })

  for (const service of [gateway, links, worker]) {
    t.equal(service.process.exitCode, null, `${service.name} never crashed`)
    t.notOk(service.logs.some((line) => Number(line.level) >= 60), `${service.name} logged nothing fatal`)
  }
})
