import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { createMinioStorage, startEmbeddedS3, StorageUnavailableError, type ObjectStorage } from '../src/index.js'

const credentials = { accessKey: 'S3RVER', secretKey: 'S3RVER', bucket: 'unavailable' }

/**
 * Runs every kind of call against `storage`; each must fail with StorageUnavailableError within
 * `withinMs`: a bound that tells "fails" from "hangs", loose enough for a loaded CI machine.
 */
async function expectAllUnavailable(t: Test, storage: ObjectStorage, withinMs: number) {
  const calls: Record<string, () => Promise<unknown>> = {
    ping: () => storage.ping(),
    ensureBucket: () => storage.ensureBucket(),
    'putObject(buffer)': () => storage.putObject('k', Buffer.from('data'), 4, 'text/plain'),
    'putObject(stream)': () => storage.putObject('k', Readable.from([Buffer.from('data')]), 4, 'text/plain'),
    getObject: () => storage.getObject('k'),
    getObjectBuffer: () => storage.getObjectBuffer('k'),
    statObject: () => storage.statObject('k'),
    removeObjects: () => storage.removeObjects(['k']),
  }
  for (const [name, call] of Object.entries(calls)) {
    const started = performance.now()
    await t.rejects(call(), StorageUnavailableError, name)
    const elapsed = performance.now() - started
    t.ok(elapsed < withinMs, `${name} failed in ${Math.round(elapsed)} ms`)
  }
}

/** Starts a plain HTTP server standing in for a broken storage endpoint. */
async function startFakeServer(t: Test, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('a closed port: connection refused', async (t) => {
  const s3 = await startEmbeddedS3()
  await s3.close()
  const storage = createMinioStorage({ ...credentials, endPoint: s3.endPoint, keepAlive: false, timeoutMs: 2_000 })
  t.teardown(() => storage.close())
  await expectAllUnavailable(t, storage, 5_000)
})

t.test('a server answering 503, e.g. a proxy in front of a stopped MinIO', async (t) => {
  let requests = 0
  const endPoint = await startFakeServer(t, (_request, response) => {
    requests++
    response.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable')
  })
  const storage = createMinioStorage({ ...credentials, endPoint, keepAlive: true, timeoutMs: 2_000 })
  t.teardown(() => storage.close())
  await expectAllUnavailable(t, storage, 5_000)
  t.equal(requests, 8, 'one request per call: no hidden retries')
})

t.test('a server that accepts connections but never answers', async (t) => {
  const endPoint = await startFakeServer(t, () => {})
  const storage = createMinioStorage({ ...credentials, endPoint, keepAlive: false, timeoutMs: 200 })
  t.teardown(() => storage.close())
  await expectAllUnavailable(t, storage, 5_000)
})

t.test('a host name that does not resolve', async (t) => {
  const storage = createMinioStorage({ ...credentials, endPoint: 'http://storage.invalid:9000', keepAlive: false, timeoutMs: 2_000 })
  t.teardown(() => storage.close())
  await t.rejects(storage.ping(), StorageUnavailableError)
})
