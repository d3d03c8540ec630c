import { randomUUID } from 'node:crypto'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { createMinioStorage, startEmbeddedS3 } from '../src/index.js'

t.test('objects in a given directory survive a restart', async (t) => {
  const directory = join(t.testdir(), 's3')
  const bucket = `embedded-${randomUUID().slice(0, 8)}`

  const first = await startEmbeddedS3({ directory, buckets: [bucket] })
  t.match(first.endPoint, /^http:\/\/127\.0\.0\.1:\d+$/)
  const writer = createMinioStorage({ ...first, bucket, keepAlive: false })
  await writer.putObject('kept', Buffer.from('still here'), 10, 'text/plain')
  writer.close()
  await first.close()

  const second = await startEmbeddedS3({ directory, buckets: [bucket] })
  t.teardown(() => second.close())
  const reader = createMinioStorage({ ...second, bucket, keepAlive: false })
  t.teardown(() => reader.close())
  t.equal((await reader.getObjectBuffer('kept')).toString(), 'still here')
})

t.test('closes promptly while a keep-alive client holds a connection', async (t) => {
  const bucket = `embedded-${randomUUID().slice(0, 8)}`
  const s3 = await startEmbeddedS3({ buckets: [bucket] })
  const storage = createMinioStorage({ ...s3, bucket, keepAlive: true })
  t.teardown(() => storage.close())
  await storage.ping()
  const started = performance.now()
  await s3.close()
  // a server that waited for the idle keep-alive connection would take its keep-alive timeout (5 s)
  t.ok(performance.now() - started < 4_000, 'closed without waiting for the keep-alive timeout')
})

t.test('a taken port is an error', async (t) => {
  const s3 = await startEmbeddedS3()
  t.teardown(() => s3.close())
  const port = Number(new URL(s3.endPoint).port)
  await t.rejects(startEmbeddedS3({ port }), { code: 'EADDRINUSE' })
})
