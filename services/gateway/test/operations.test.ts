import t from 'tap'
import { createTestUser, jpegImage, multipartBody } from '@imageapi/testkit'
import { createMinioStorage } from '@imageapi/storage'
import { buildApp } from '../src/app.js'
import { loadGatewayConfig } from '../src/config.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

const { app, env } = await buildTestGateway(t)

function metricValue(text: string, pattern: RegExp): number {
  const match = pattern.exec(text)
  return match ? Number(match[1]) : 0
}

t.test('/healthz and /readyz with every dependency up', async (t) => {
  t.same((await app.inject('/healthz')).json(), { status: 'ok' })
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  t.same(ready.json().checks, { postgres: 'ok', redis: 'ok', storage: 'ok' })
})

t.test('/readyz names storage when it is unreachable', async (t) => {
  const config = loadGatewayConfig({ ...env.env, LOG_LEVEL: 'silent' })
  const broken = await buildApp({ config, storage: createMinioStorage({ ...env.s3, endPoint: 'http://127.0.0.1:1', keepAlive: false, timeoutMs: 500 }) })
  t.teardown(() => broken.close())
  const response = await broken.inject('/readyz')
  t.equal(response.statusCode, 503)
  t.match(response.json().message, 'storage')
  t.equal(response.json().checks.storage, 'down')
})

t.test('metrics move with uploads, rejections, requests and the queue', async (t) => {
  const before = (await app.inject('/metrics')).body
  const user = await createTestUser(env.repos, 'Basic')
  const token = (await login(app, user.email, user.password)).access
  const jpeg = await jpegImage(100, 80)
  const good = multipartBody({ image: { filename: 'a.jpg', data: jpeg } })
  t.equal((await app.inject({ method: 'POST', url: '/api/images', payload: good.body, headers: { ...good.headers, authorization: `Bearer ${token}` } })).statusCode, 201)
  const bad = multipartBody({ image: { filename: 'a.jpg', data: Buffer.from('not an image at all') } })
  t.equal((await app.inject({ method: 'POST', url: '/api/images', payload: bad.body, headers: { ...bad.headers, authorization: `Bearer ${token}` } })).statusCode, 415)
  const after = (await app.inject('/metrics')).body

  const accepted = /imageapi_uploads_total\{outcome="accepted"\} (\d+)/
  const unsupported = /imageapi_uploads_total\{outcome="unsupported_format"\} (\d+)/
  const bytes = /imageapi_upload_bytes_total (\d+)/
  t.equal(metricValue(after, accepted) - metricValue(before, accepted), 1)
  t.equal(metricValue(after, unsupported) - metricValue(before, unsupported), 1)
  t.equal(metricValue(after, bytes) - metricValue(before, bytes), jpeg.length)
  t.match(after, /http_request_duration_seconds_count\{method="POST",route="\/api\/images",status="201"\} 1/)
  t.match(after, /imageapi_queue_jobs\{queue="thumbnails",state="prioritized"\} 1/, 'the queued job is counted')
  t.notMatch(after, /Bearer|password/, 'no secret in metrics')
})
