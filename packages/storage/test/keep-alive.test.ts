import { randomBytes, randomUUID } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import t from 'tap'
import { createMinioStorage, type MinioStorage } from '../src/index.js'
import { blockEventLoop, startS3OnOwnThread } from './support/s3-on-own-thread.js'

// Pooled keep-alive connections against a server that closes idle ones on its own clock (its own
// thread here; its own process in production), while this process's event loop is blocked.

const bucket = `keep-alive-${randomUUID().slice(0, 8)}`
const body = randomBytes(1024 * 1024)
const PARALLEL = 4

/** Counts new TCP connections and HTTP requests made by this process while `run` runs. */
async function counting<T>(run: () => Promise<T>): Promise<{ result: T; connections: number; requests: number }> {
  let connections = 0
  let requests = 0
  const onSocket = () => connections++
  const onRequest = () => requests++
  diagnostics.subscribe('net.client.socket', onSocket)
  diagnostics.subscribe('http.client.request.start', onRequest)
  try {
    return { result: await run(), connections, requests }
  } finally {
    diagnostics.unsubscribe('net.client.socket', onSocket)
    diagnostics.unsubscribe('http.client.request.start', onRequest)
  }
}

/** PARALLEL puts at once, each on its own connection, which then idle in the pool. */
async function fillPool(storage: MinioStorage, prefix: string): Promise<void> {
  await Promise.all(Array.from({ length: PARALLEL }, (_, i) => storage.putObject(`${prefix}/${i}`, body, body.length, 'application/octet-stream')))
}

t.test('connections left idle past the server keep-alive while the event loop was blocked are not reused', async (t) => {
  // The server announces 2 s (Keep-Alive: timeout=2) and closes idle connections about 3 s in.
  const s3 = await startS3OnOwnThread(t, { buckets: [bucket], keepAliveTimeoutMs: 2_000 })
  const storage = createMinioStorage({ ...s3, bucket, keepAlive: true })
  t.teardown(() => storage.close())
  await fillPool(storage, 'before')

  // What fifty SHA-256 hashes of 20 MB bodies do to the loop: the server closes the pooled
  // connections meanwhile, and nothing here can notice before the next requests are written.
  blockEventLoop(3_500)
  const puts = await counting(() =>
    Promise.allSettled(Array.from({ length: PARALLEL }, (_, i) => storage.putObject(`after/${i}`, body, body.length, 'application/octet-stream'))),
  )
  t.same(
    puts.result.map((outcome) => (outcome.status === 'fulfilled' ? 'stored' : String(outcome.reason))),
    Array.from({ length: PARALLEL }, () => 'stored'),
    'every put succeeds (before the fix: EPIPE on each reused connection)',
  )
  t.equal(puts.requests, PARALLEL, 'no request had to be sent twice: the expired connections were closed first')
  t.equal(puts.connections, PARALLEL, 'on new connections')

  blockEventLoop(3_500)
  const gets = await counting(() => Promise.all(Array.from({ length: PARALLEL }, (_, i) => storage.getObjectBuffer(`after/${i}`))))
  t.ok(gets.result.every((read) => read.equals(body)), 'gets after another block read every byte')
  t.equal(gets.requests, PARALLEL)
})

t.test('a connection idle for longer than idleSocketTimeoutMs is closed, a fresher one reused', async (t) => {
  const s3 = await startS3OnOwnThread(t, { buckets: [bucket] })
  const storage = createMinioStorage({ ...s3, bucket, keepAlive: true, idleSocketTimeoutMs: 500 })
  t.teardown(() => storage.close())
  await storage.putObject('idle/a', body, body.length, 'application/octet-stream')

  const soon = await counting(() => storage.statObject('idle/a'))
  t.equal(soon.result?.size, body.length)
  t.equal(soon.connections, 0, 'reused right after')

  blockEventLoop(700)
  const later = await counting(() => storage.statObject('idle/a'))
  t.equal(later.result?.size, body.length)
  t.equal(later.connections, 1, 'a new connection after 700 ms idle, though the server (5 s) would still have taken it')
})

t.test('connections the server drops without notice: idempotent requests are sent once more', async (t) => {
  const s3 = await startS3OnOwnThread(t, { buckets: [bucket] })
  const storage = createMinioStorage({ ...s3, bucket, keepAlive: true })
  t.teardown(() => storage.close())
  await fillPool(storage, 'dropped')

  s3.closeIdleConnectionsWhileBlocked()
  const puts = await counting(() =>
    Promise.all(Array.from({ length: PARALLEL }, (_, i) => storage.putObject(`dropped/${i}`, body, body.length, 'application/octet-stream'))),
  )
  t.equal(puts.requests, 2 * PARALLEL, 'each put failed on its dead connection and was sent again')
  t.equal(puts.connections, PARALLEL)

  s3.closeIdleConnectionsWhileBlocked()
  const gets = await counting(() => Promise.all(Array.from({ length: PARALLEL }, (_, i) => storage.getObjectBuffer(`dropped/${i}`))))
  t.ok(gets.result.every((read) => read.equals(body)), 'gets read every byte')
  t.equal(gets.requests, 2 * PARALLEL)

  s3.closeIdleConnectionsWhileBlocked()
  const stat = await counting(() => storage.statObject('dropped/0'))
  t.equal(stat.result?.size, body.length, 'stat')
  t.equal(stat.requests, 2)
})
