import t from 'tap'
import Fastify from 'fastify'
import { operations } from '../src/index.js'

async function build(options: Parameters<typeof operations>[1]) {
  const app = Fastify()
  await app.register(operations, options)
  app.get('/things/:id', async () => ({ ok: true }))
  t.teardown(() => app.close())
  await app.ready()
  return app
}

t.test('/healthz answers while the process is up', async (t) => {
  const app = await build({ checks: {} })
  const response = await app.inject('/healthz')
  t.equal(response.statusCode, 200)
  t.same(response.json(), { status: 'ok' })
})

t.test('/readyz: 200 when every dependency answers, 503 naming those that do not', async (t) => {
  let redisUp = true
  const app = await build({
    checks: {
      postgres: async () => {},
      redis: async () => {
        if (!redisUp) throw new Error('ECONNREFUSED')
      },
      storage: () => new Promise(() => {}),
    },
    checkTimeoutMs: 100,
  })
  const down = await app.inject('/readyz')
  t.equal(down.statusCode, 503)
  t.same(down.json(), { status: 'unavailable', message: 'not ready: storage (no answer within 100 ms)', checks: { postgres: 'ok', redis: 'ok', storage: 'down' } })
  redisUp = false
  t.equal((await app.inject('/readyz')).json().message, 'not ready: redis (ECONNREFUSED), storage (no answer within 100 ms)')

  const healthy = await build({ checks: { postgres: async () => {} } })
  t.equal((await healthy.inject('/readyz')).statusCode, 200)
})

t.test('/metrics: process metrics and a request histogram by route template and status', async (t) => {
  const app = await build({ checks: {} })
  await app.inject('/things/1')
  await app.inject('/things/2')
  await app.inject('/nowhere')
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, /process_cpu_user_seconds_total/)
  t.match(metrics, /http_request_duration_seconds_count\{method="GET",route="\/things\/:id",status="200"\} 2/)
  t.match(metrics, /http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1/)
  t.notMatch(metrics, /route="\/healthz"/)
})

t.test('/metrics can require a token', async (t) => {
  const app = await build({ checks: {}, metricsToken: 's3cret' })
  t.equal((await app.inject('/metrics')).statusCode, 401)
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong!' } })).statusCode, 401)
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer s3cret' } })).statusCode, 200)
})
