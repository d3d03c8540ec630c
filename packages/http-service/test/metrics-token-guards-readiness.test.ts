import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { operations } from '../src/index.js'

// With a metrics token, /readyz (which names hosts, buckets and refused credentials) wants it as
// /metrics does; /healthz, what health checks ask, stays open. Without one, all three are open.

async function build(t: Test, metricsToken?: string) {
  const app = Fastify()
  await app.register(operations, { checks: { postgres: async () => { throw new Error('connect ECONNREFUSED 10.0.0.5:5432') } }, ...(metricsToken ? { metricsToken } : {}) })
  app.get('/other', async () => ({ ok: true }))
  t.teardown(() => app.close())
  return app
}

t.test('with a token: /metrics and /readyz 401 without it (saying nothing of the dependencies), /healthz and other routes open', async (t) => {
  const app = await build(t, 'token-token-token-1')
  for (const url of ['/metrics', '/readyz']) {
    const bare = await app.inject(url)
    t.equal(bare.statusCode, 401, url)
    t.match(bare.headers['www-authenticate'], /^Bearer/)
    t.match(bare.json().message, 'metrics token')
    t.notMatch(bare.body, /10\.0\.0\.5|ECONNREFUSED/)
    t.equal((await app.inject({ url, headers: { authorization: 'Bearer token-token-token-2' } })).statusCode, 401, `${url}: wrong token`)
  }
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer token-token-token-1' } })).statusCode, 200)
  const ready = await app.inject({ url: '/readyz', headers: { authorization: 'Bearer token-token-token-1' } })
  t.equal(ready.statusCode, 503, 'with the token, /readyz answers as before')
  t.match(ready.json().message, 'ECONNREFUSED')
  t.equal((await app.inject('/healthz')).statusCode, 200)
  t.equal((await app.inject('/other')).statusCode, 200)
})

t.test('without a token: all open, as before', async (t) => {
  const app = await build(t)
  t.equal((await app.inject('/metrics')).statusCode, 200)
  t.equal((await app.inject('/readyz')).statusCode, 503)
  t.equal((await app.inject('/healthz')).statusCode, 200)
})
