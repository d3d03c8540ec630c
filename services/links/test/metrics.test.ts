import t from 'tap'
import { buildLinksHarness, seedImage, userOnTier, viewPath } from './helpers/links-fixture.js'

const harness = await buildLinksHarness(t)
const { app, env, signer, clock } = harness
const owner = await userOnTier(env, 'Enterprise')
const image = await seedImage(env, owner, { owed: [200] })

function count(text: string, outcome: string): number {
  return Number(new RegExp(`imageapi_link_requests_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0)
}

t.test('each link outcome moves its counter: served, partial, 304, expired, revoked, bad token, not found', async (t) => {
  const before = (await app.inject('/metrics')).body
  const permanent = signer.sign({ imageId: image.id, variant: 200 })
  const served = await app.inject(viewPath(permanent))
  await app.inject({ url: viewPath(permanent), headers: { range: 'bytes=0-9' } })
  await app.inject({ url: viewPath(permanent), headers: { 'if-none-match': served.headers.etag as string } })
  await app.inject(viewPath(`${permanent}x`))
  await app.inject(viewPath(signer.sign({ imageId: image.id, variant: 400 })))

  const nowSeconds = Math.floor(clock.now() / 1000)
  const link = await env.repos.links.create({ imageId: image.id, variant: '200', expiresAt: new Date((nowSeconds + 300) * 1000) })
  const expiring = signer.sign({ imageId: image.id, variant: 200, expiresAt: nowSeconds + 300, linkId: link.id })
  await env.repos.links.revokeForOwner(link.id, owner.id, new Date(clock.now()))
  await app.inject(viewPath(expiring))
  clock.advance(301_000)
  await app.inject(viewPath(expiring))

  const after = (await app.inject('/metrics')).body
  for (const outcome of ['served', 'served_partial', 'not_modified', 'bad_token', 'not_found', 'revoked', 'expired']) {
    t.equal(count(after, outcome) - count(before, outcome), 1, outcome)
  }
  t.match(after, /http_request_duration_seconds_count\{method="GET",route="\/v\/:token",status="200"\}/)
})

t.test('/healthz and /readyz', async (t) => {
  t.equal((await app.inject('/healthz')).statusCode, 200)
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  t.same(ready.json().checks, { postgres: 'ok', storage: 'ok' })
})
