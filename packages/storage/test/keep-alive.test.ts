import { randomBytes } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import t from 'tap'
import { createMinioStorage, type MinioStorage } from '../src/index.js'
import { startIdleClosingProxy, type IdleClosingProxy } from './support/idle-closing-proxy.js'
import { createTestBucket } from './support/test-bucket.js'

// Pooled keep-alive connections to radosgw through a proxy that gives up on idle connections (as a
// server or load balancer with a short idle timeout does), while this process's event loop is blocked.

const { store, bucket } = await createTestBucket(t, 'keep-alive')
const body = randomBytes(1024 * 1024)
const PARALLEL = 4

/** Blocks this thread's event loop, as minio's SHA-256 of large bodies does. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** Counts the HTTP requests this process makes, and the connections the proxy accepts, while `run` runs. */
async function counting<T>(proxy: IdleClosingProxy, run: () => Promise<T>): Promise<{ result: T; connections: number; requests: number }> {
  let requests = 0
  const onRequest = () => requests++
  const acceptedBefore = proxy.acceptedConnections()
  diagnostics.subscribe('http.client.request.start', onRequest)
  try {
    const result = await run()
    return { result, connections: proxy.acceptedConnections() - acceptedBefore, requests }
  } finally {
    diagnostics.unsubscribe('http.client.request.start', onRequest)
  }
}

function keepAliveStorage(proxy: IdleClosingProxy, idleSocketTimeoutMs?: number): MinioStorage {
  const storage = createMinioStorage({ ...store, endPoint: proxy.endPoint, bucket, keepAlive: true, idleSocketTimeoutMs })
  t.teardown(() => storage.close())
  return storage
}

/** PARALLEL puts at once, each on its own connection, which then idle in the pool. */
async function fillPool(storage: MinioStorage, prefix: string): Promise<void> {
  await Promise.all(Array.from({ length: PARALLEL }, (_, i) => storage.putObject(`${prefix}/${i}`, body, body.length, 'application/octet-stream')))
}

t.test('connections idle past the idle timeout while the event loop was blocked are closed before reuse, not sent on', async (t) => {
  // The proxy closes connections idle for 3 s; the client gives them up after 2 s.
  const proxy = await startIdleClosingProxy(t, store.endPoint, { idleTimeoutMs: 3_000 })
  const storage = keepAliveStorage(proxy, 2_000)
  await fillPool(storage, 'before')

  // What fifty SHA-256 hashes of 20 MB bodies do to the loop: the pooled connections pass both
  // idle timeouts, and nothing here can notice before the next requests are written.
  blockEventLoop(3_500)
  const puts = await counting(proxy, () =>
    Promise.allSettled(Array.from({ length: PARALLEL }, (_, i) => storage.putObject(`after/${i}`, body, body.length, 'application/octet-stream'))),
  )
  t.same(
    puts.result.map((outcome) => (outcome.status === 'fulfilled' ? 'stored' : String(outcome.reason))),
    Array.from({ length: PARALLEL }, () => 'stored'),
    'every put succeeds',
  )
  t.equal(puts.requests, PARALLEL, 'no request had to be sent twice: the expired connections were closed first')
  t.equal(puts.connections, PARALLEL, 'on new connections')

  blockEventLoop(3_500)
  const gets = await counting(proxy, () => Promise.all(Array.from({ length: PARALLEL }, (_, i) => storage.getObjectBuffer(`after/${i}`))))
  t.ok(gets.result.every((read) => read.equals(body)), 'gets after another block read every byte')
  t.equal(gets.requests, PARALLEL, 'each get sent once')
  t.equal(gets.connections, PARALLEL, 'on new connections')
})

t.test('a connection idle for longer than idleSocketTimeoutMs is closed, a fresher one reused', async (t) => {
  const proxy = await startIdleClosingProxy(t, store.endPoint)
  const storage = keepAliveStorage(proxy, 500)
  await storage.putObject('idle/a', body, body.length, 'application/octet-stream')

  const soon = await counting(proxy, () => storage.statObject('idle/a'))
  t.equal(soon.result?.size, body.length)
  t.equal(soon.connections, 0, 'reused right after')

  blockEventLoop(700)
  const later = await counting(proxy, () => storage.statObject('idle/a'))
  t.equal(later.result?.size, body.length)
  t.equal(later.connections, 1, 'a new connection after 700 ms idle, though the server would still have taken the old one')
})

t.test('connections the server drops without notice: idempotent requests are sent once more on new connections', async (t) => {
  const proxy = await startIdleClosingProxy(t, store.endPoint)
  const storage = keepAliveStorage(proxy)
  await fillPool(storage, 'dropped')

  proxy.dropOpenConnections()
  const puts = await counting(proxy, () =>
    Promise.all(Array.from({ length: PARALLEL }, (_, i) => storage.putObject(`dropped/${i}`, body, body.length, 'application/octet-stream'))),
  )
  t.equal(puts.requests, 2 * PARALLEL, 'each put failed on its dead connection and was sent again')
  t.equal(puts.connections, PARALLEL)
  t.same(await storage.listKeys('dropped/'), Array.from({ length: PARALLEL }, (_, i) => `dropped/${i}`), 'every put stored its object')

  proxy.dropOpenConnections()
  const gets = await counting(proxy, () => Promise.all(Array.from({ length: PARALLEL }, (_, i) => storage.getObjectBuffer(`dropped/${i}`))))
  t.ok(gets.result.every((read) => read.equals(body)), 'gets read every byte')
  t.equal(gets.requests, 2 * PARALLEL)

  proxy.dropOpenConnections()
  const stat = await counting(proxy, () => storage.statObject('dropped/0'))
  t.equal(stat.result?.size, body.length, 'stat')
  t.equal(stat.requests, 2)
})
