import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { testS3Store } from '@imageapi/radosgw'
import { createMinioStorage, StorageUnavailableError, type ObjectStorage } from '../src/index.js'
import { createTestBucket } from './support/test-bucket.js'

// Storage that cannot be used, each way a deployment meets it: every call must fail with
// StorageUnavailableError (services answer 503 with its message), soon, and say what is wrong.

const store = await testS3Store()
const credentials = { accessKey: store.accessKey, secretKey: store.secretKey, region: store.region, bucket: 'unavailable' }

type Call = () => Promise<unknown>

/** One call of each kind; `ensureBucket` is left out where it would mend the fault (create the bucket). */
function everyCall(storage: ObjectStorage, { withEnsureBucket = true } = {}): Record<string, Call> {
  return {
    ping: () => storage.ping(),
    ...(withEnsureBucket ? { ensureBucket: () => storage.ensureBucket() } : {}),
    'putObject(buffer)': () => storage.putObject('k', Buffer.from('data'), 4, 'text/plain'),
    'putObject(stream)': () => storage.putObject('k', Readable.from([Buffer.from('data')]), 4, 'text/plain'),
    putStream: () => storage.putStream(Readable.from([Buffer.from('data')]), () => ({ key: 'k', contentType: 'text/plain' })),
    getObject: () => storage.getObject('k'),
    getObjectBuffer: () => storage.getObjectBuffer('k'),
    statObject: () => storage.statObject('k'),
    removeObjects: () => storage.removeObjects(['k']),
  }
}

/**
 * Each call must reject with StorageUnavailableError whose message matches `message`, within
 * `withinMs`: a bound that tells "fails" from "hangs", loose enough for a loaded CI machine.
 */
async function expectAllUnavailable(t: Test, calls: Record<string, Call>, message: RegExp, withinMs = 5_000) {
  for (const [name, call] of Object.entries(calls)) {
    const started = performance.now()
    await t.rejects(call(), { name: 'StorageUnavailableError', message }, name)
    const elapsed = performance.now() - started
    t.ok(elapsed < withinMs, `${name} failed in ${Math.round(elapsed)} ms`)
  }
}

/** Starts a plain HTTP server standing in for a broken storage endpoint (radosgw cannot be made to answer so). */
async function startBrokenServer(t: Test, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A port on 127.0.0.1 that was free a moment ago and has nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

t.test('a missing bucket: every call but ensureBucket fails naming the bucket and the endpoint', async (t) => {
  const storage = createMinioStorage({ ...store, bucket: 'no-such-bucket-here', keepAlive: false })
  t.teardown(() => storage.close())
  const message = new RegExp(`^bucket no-such-bucket-here does not exist at ${store.endPoint}$`)
  await expectAllUnavailable(t, everyCall(storage, { withEnsureBucket: false }), message)
})

t.test('a wrong secret key: every call fails saying the credentials were refused', async (t) => {
  const { bucket } = await createTestBucket(t, 'unavailable')
  const storage = createMinioStorage({ ...store, secretKey: `${store.secretKey}x`, bucket, keepAlive: false })
  t.teardown(() => storage.close())
  await expectAllUnavailable(t, everyCall(storage), new RegExp(`^storage refused the credentials for bucket ${bucket} at ${store.endPoint} \\(\\w+\\)$`))
  await t.rejects(storage.getObject('k'), { message: /\(SignatureDoesNotMatch\)$/ }, 'a request with a body names the S3 error code')
})

t.test('an unknown access key: every call fails saying the credentials were refused', async (t) => {
  const { bucket } = await createTestBucket(t, 'unavailable')
  const storage = createMinioStorage({ ...store, accessKey: 'no-such-access-key', bucket, keepAlive: false })
  t.teardown(() => storage.close())
  await expectAllUnavailable(t, everyCall(storage), /^storage refused the credentials for bucket /)
  await t.rejects(storage.getObject('k'), { message: /\(InvalidAccessKeyId\)$/ }, 'a request with a body names the S3 error code')
})

t.test('a closed port: connection refused', async (t) => {
  const endPoint = `http://127.0.0.1:${await closedPort()}`
  const storage = createMinioStorage({ ...credentials, endPoint, keepAlive: false, timeoutMs: 2_000 })
  t.teardown(() => storage.close())
  await expectAllUnavailable(t, everyCall(storage), new RegExp(`^storage at ${endPoint} is not reachable \\(ECONNREFUSED\\)$`))
})

t.test('a server answering 503, e.g. a proxy in front of a stopped store: one request per call, no hidden retries', async (t) => {
  let requests = 0
  const endPoint = await startBrokenServer(t, (_request, response) => {
    requests++
    response.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>ServiceUnavailable</Code></Error>')
  })
  const storage = createMinioStorage({ ...credentials, endPoint, keepAlive: true, timeoutMs: 2_000 })
  t.teardown(() => storage.close())
  const calls = everyCall(storage)
  // A HEAD answer (ping, ensureBucket, statObject) has no body to carry the S3 error code.
  await expectAllUnavailable(t, calls, new RegExp(`^storage at ${endPoint} answered HTTP 503( ServiceUnavailable)?$`))
  t.equal(requests, Object.keys(calls).length)
})

t.test('a server answering any other 5xx (501, 507) is unavailable too, never a bare error', async (t) => {
  for (const [status, code] of [
    [501, 'NotImplemented'],
    [507, 'InsufficientStorage'],
  ] as const) {
    const endPoint = await startBrokenServer(t, (_request, response) => {
      response.writeHead(status, { 'content-type': 'application/xml' }).end(`<Error><Code>${code}</Code></Error>`)
    })
    const storage = createMinioStorage({ ...credentials, endPoint, keepAlive: false, timeoutMs: 2_000 })
    t.teardown(() => storage.close())
    await expectAllUnavailable(t, everyCall(storage), new RegExp(`^storage at ${endPoint} answered HTTP ${status}( ${code})?$`))
  }
})

t.test('a server that accepts connections but never answers', async (t) => {
  const endPoint = await startBrokenServer(t, () => {})
  const storage = createMinioStorage({ ...credentials, endPoint, keepAlive: false, timeoutMs: 200 })
  t.teardown(() => storage.close())
  await expectAllUnavailable(t, everyCall(storage), new RegExp(`^storage at ${endPoint} sent nothing for 200 ms$`))
})
