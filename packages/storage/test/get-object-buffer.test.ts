import { randomBytes } from 'node:crypto'
import net, { type AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createMinioStorage, ObjectNotFoundError, StorageUnavailableError } from '../src/index.js'
import { createTestBucket } from './support/test-bucket.js'

const { store, bucket, storage } = await createTestBucket(t, 'buffer')

t.test('objects of every size come back byte for byte', async (t) => {
  // 0 bytes, inside Node's small-buffer pool, one socket chunk, many chunks
  for (const size of [0, 1, 3_000, 70_000, 5 * 1024 * 1024 + 1]) {
    const data = randomBytes(size)
    await storage.putObject(`sizes/${size}`, data, size, 'application/octet-stream')
    const read = await storage.getObjectBuffer(`sizes/${size}`)
    t.equal(read.length, size, `${size} bytes`)
    t.ok(read.equals(data), `${size} bytes: same content`)
  }
})

t.test('a missing object is ObjectNotFoundError', async (t) => {
  await t.rejects(storage.getObjectBuffer('sizes/missing'), ObjectNotFoundError)
})

/**
 * A TCP proxy in front of the S3 server that cuts each connection once `cutAfter` bytes of the
 * server's answer (headers included) have passed: a transfer that breaks off mid-body.
 */
async function startCuttingProxy(t: Test, target: string, cutAfter: number): Promise<string> {
  const { hostname, port } = new URL(target)
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname)
    let passed = 0
    client.pipe(upstream)
    upstream.on('data', (chunk: Buffer) => {
      const room = cutAfter - passed
      passed += chunk.length
      if (room > chunk.length) {
        client.write(chunk)
        return
      }
      client.end(chunk.subarray(0, room))
      upstream.destroy()
    })
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('a connection cut mid-body is StorageUnavailableError, not a short buffer', async (t) => {
  const data = randomBytes(1024 * 1024)
  await storage.putObject('cut/original', data, data.length, 'image/png')
  const endPoint = await startCuttingProxy(t, store.endPoint, 200_000)
  const throughProxy = createMinioStorage({ ...store, endPoint, bucket, keepAlive: false })
  t.teardown(() => throughProxy.close())
  const error = await throughProxy.getObjectBuffer('cut/original').then(
    () => undefined,
    (error: unknown) => error,
  )
  t.type(error, StorageUnavailableError)
  t.match((error as Error).message, /ECONNRESET/, 'the cut connection, named')
  t.ok((await storage.getObjectBuffer('cut/original')).equals(data), 'the object itself is whole')
})
