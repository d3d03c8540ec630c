import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import t from 'tap'
import sharp from 'sharp'
import { createTestEnvironment, createTestUser } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Two gateways on one database, Redis and bucket. A phone's connection to the first goes half-open
// in the middle of a PATCH (the server never hears it end); the phone resumes through the second.
// The second must make the first let go of the upload (a lock shared in Redis) before it reads the
// offset and writes, or both would write parts of the same upload.
const env = await createTestEnvironment(t)
const first = await buildTestGateway(t, {}, { env })
const second = await buildTestGateway(t, {}, { env })
const firstUrl = await first.app.listen({ port: 0, host: '127.0.0.1' })
const secondUrl = await second.app.listen({ port: 0, host: '127.0.0.1' })
const owner = await createTestUser(env.repos, 'Premium')
const token = (await login(first.app, owner.email, owner.password)).access
const tus = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', ...extra })
const photo = await sharp(randomBytes(1800 * 1400 * 3), { raw: { width: 1800, height: 1400, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer()

t.test('a PATCH left half-open on one gateway is ended when the client resumes through another, which then reports the offset and finishes the upload', async (t) => {
  const created = await fetch(`${firstUrl}/api/uploads/resumable`, { method: 'POST', headers: tus({ 'upload-length': String(photo.length) }) })
  const id = created.headers.get('location')!.split('/').pop()!
  const sent = 6 * 1024 * 1024

  // the first gateway gets 6 MiB and then silence: the socket stays open
  let halfOpenEnded: (outcome: string) => void
  const halfOpen = new Promise<string>((resolve) => (halfOpenEnded = resolve))
  const stalled = httpRequest(`${firstUrl}/api/uploads/resumable/${id}`, {
    method: 'PATCH',
    headers: tus({ 'content-type': 'application/offset+octet-stream', 'upload-offset': '0', 'content-length': String(photo.length) }),
  })
  stalled.on('response', (response) => {
    response.resume()
    halfOpenEnded(`answered ${response.statusCode}`)
  })
  stalled.on('error', (error) => halfOpenEnded(`closed (${error.message})`))
  t.teardown(() => stalled.destroy())
  await new Promise<void>((resolve) => stalled.write(photo.subarray(0, sent), () => resolve()))
  await new Promise((resolve) => setTimeout(resolve, 1_000))

  const head = await fetch(`${secondUrl}/api/uploads/resumable/${id}`, { method: 'HEAD', headers: tus() })
  t.equal(head.status, 200)
  const offset = Number(head.headers.get('upload-offset'))
  t.ok(offset > 0 && offset <= sent, `the second gateway reports ${offset} bytes, what the first kept`)
  t.match(await halfOpen, /answered|closed/, 'the first gateway ended the half-open request')

  const finished = await fetch(`${secondUrl}/api/uploads/resumable/${id}`, {
    method: 'PATCH',
    headers: tus({ 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) }),
    body: photo.subarray(offset),
  })
  t.equal(finished.status, 200, await finished.clone().text())
  t.ok((await env.storage.getObjectBuffer(`originals/${id}.png`)).equals(photo), 'the original is the whole file, byte for byte')
})
