import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import t from 'tap'
import sharp from 'sharp'
import { createTestUser, listObjectKeys, s3AdminClient, waitFor } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Resumable uploads (issue 16): TUS 1.0 relayed by the gateway to @tus/s3-store on the run's radosgw.
// Over real HTTP, so a connection can be cut half-way through a PATCH.
let now = Date.now()
const { app, env } = await buildTestGateway(t, { UPLOAD_PENDING_PER_USER: '5', RESUMABLE_UPLOAD_IDLE_SECONDS: '3600' }, { clock: () => now })
const address = await app.listen({ port: 0, host: '127.0.0.1' })
const owner = await createTestUser(env.repos, 'Premium')
const other = await createTestUser(env.repos, 'Basic')
const ownerToken = (await login(app, owner.email, owner.password)).access
const otherToken = (await login(app, other.email, other.password)).access
const s3 = s3AdminClient(env.s3)

/** A PNG of random pixels, stored uncompressed: about width × height × 3 bytes. */
async function noisePng(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer()
}
const large = await noisePng(2000, 1500) // ~9 MB: more than one 8 MiB part

const tus = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', ...extra })

async function create(length: number, options: { title?: string; token?: string } = {}) {
  const metadata: Record<string, string> = options.title === undefined ? {} : { 'upload-metadata': `title ${Buffer.from(options.title).toString('base64')},filetype aW1hZ2UvcG5n` }
  const response = await fetch(`${address}/api/uploads/resumable`, { method: 'POST', headers: tus(options.token ?? ownerToken, { 'upload-length': String(length), ...metadata }) })
  return { status: response.status, location: response.headers.get('location'), body: await response.text() }
}

async function patch(url: string, offset: number, bytes: Buffer, token = ownerToken) {
  const response = await fetch(url, {
    method: 'PATCH',
    headers: tus(token, { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) }),
    body: bytes,
  })
  const text = await response.text()
  return { status: response.status, offset: response.headers.get('upload-offset'), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
}

async function head(url: string, token = ownerToken) {
  const response = await fetch(url, { method: 'HEAD', headers: tus(token) })
  return { status: response.status, offset: Number(response.headers.get('upload-offset')), length: Number(response.headers.get('upload-length')) }
}

/** Sends the first `sent` bytes of a PATCH of `bytes`, then cuts the connection, as a phone losing its network does. */
async function patchCutOff(url: string, bytes: Buffer, sent: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const request = httpRequest(url, {
      method: 'PATCH',
      headers: tus(ownerToken, { 'content-type': 'application/offset+octet-stream', 'upload-offset': '0', 'content-length': String(bytes.length) }),
    })
    request.on('error', () => resolve())
    request.on('response', (response) => {
      response.resume()
      resolve()
    })
    request.write(bytes.subarray(0, sent), () => setTimeout(() => request.destroy(), 300))
  })
}

async function incompleteUploads(): Promise<string[]> {
  const keys: string[] = []
  for await (const upload of s3.listIncompleteUploads(env.s3.bucket, '', true)) keys.push(upload.key)
  return keys
}

async function pendingRows(): Promise<number> {
  const { n } = await env.database.db.selectFrom('pending_uploads').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  return Number(n)
}

t.test('an upload cut off half-way resumes from the offset HEAD reports, and its last byte makes the image (200 with the image JSON)', async (t) => {
  const created = await create(large.length, { title: 'resumed' })
  t.equal(created.status, 201, created.body)
  const url = created.location!
  t.match(url, new RegExp(`^${address}/api/uploads/resumable/[0-9a-f-]{36}$`), 'the upload URL is on the API\'s own address')

  await patchCutOff(url, large, 6 * 1024 * 1024)
  const resumedAt = await waitFor(async () => {
    const state = await head(url)
    return state.status === 200 && state.offset > 0 ? state : undefined
  }, { timeoutMs: 15_000, what: 'HEAD to report what arrived' })
  t.equal(resumedAt.length, large.length, 'HEAD reports the declared length')
  t.ok(resumedAt.offset <= 6 * 1024 * 1024, `the offset (${resumedAt.offset}) is at most what was sent`)

  const finished = await patch(url, resumedAt.offset, large.subarray(resumedAt.offset))
  t.equal(finished.status, 200, JSON.stringify(finished.body))
  t.equal(finished.offset, String(large.length))
  const id = url.slice(url.lastIndexOf('/') + 1)
  t.equal(finished.body.id, id, 'the image has the upload\'s id')
  t.equal(finished.body.title, 'resumed', 'the title from Upload-Metadata')
  t.equal(finished.body.bytes, large.length)
  t.ok((await env.storage.getObjectBuffer(`originals/${id}.png`)).equals(large), 'the original is the file, byte for byte')
  t.same((await listObjectKeys(env.storage)).filter((key) => key.startsWith('uploads/')), [], 'nothing staged is left')
  t.same(await incompleteUploads(), [], 'no unfinished multipart upload')
  t.equal(await pendingRows(), 0)
  t.equal((await head(url)).status, 404, 'the upload URL is gone once it became an image')
})

t.test('Upload-Length above the byte limit is refused at creation with 413, and nothing is made', async (t) => {
  const refused = await create(25 * 1024 * 1024 + 1)
  t.equal(refused.status, 413)
  t.match(JSON.parse(refused.body).message, /at most \d+ bytes/)
  const missing = await fetch(`${address}/api/uploads/resumable`, { method: 'POST', headers: tus(ownerToken) })
  t.equal(missing.status, 400, 'no Upload-Length')
  const noTus = await fetch(`${address}/api/uploads/resumable`, { method: 'POST', headers: { authorization: `Bearer ${ownerToken}`, 'upload-length': '10' } })
  t.equal(noTus.status, 412, 'no Tus-Resumable')
  const anonymous = await fetch(`${address}/api/uploads/resumable`, { method: 'POST', headers: { 'tus-resumable': '1.0.0', 'upload-length': '10' } })
  t.equal(anonymous.status, 401, 'no bearer token')
  t.equal(await pendingRows(), 0)
  t.same((await listObjectKeys(env.storage)).filter((key) => key.startsWith('uploads/')), [])
})

t.test('another user\'s upload URL answers 404 to HEAD, PATCH and DELETE, and the upload is untouched', async (t) => {
  const created = await create(large.length)
  const url = created.location!
  t.equal((await head(url, otherToken)).status, 404, 'HEAD')
  t.equal((await patch(url, 0, large.subarray(0, 1000), otherToken)).status, 404, 'PATCH')
  t.equal((await fetch(url, { method: 'DELETE', headers: tus(otherToken) })).status, 404, 'DELETE')
  const state = await head(url)
  t.same([state.status, state.offset], [200, 0], 'the owner still sees it, with nothing written')
  const cancelled = await fetch(url, { method: 'DELETE', headers: tus(ownerToken) })
  t.equal(cancelled.status, 204, 'the owner can cancel it')
  t.equal(await pendingRows(), 0, 'cancelling ends the upload')
  t.same((await listObjectKeys(env.storage)).filter((key) => key.startsWith('uploads/')), [], 'and removes what was staged')
  t.same(await incompleteUploads(), [])
})

t.test('a refused file (not an image) is refused on its last byte with 415 and leaves no object, no row, no unfinished upload', async (t) => {
  const imagesBefore = (await listObjectKeys(env.storage)).filter((key) => !key.startsWith('uploads/'))
  const bytes = Buffer.from('<html>'.repeat(2000))
  const created = await create(bytes.length)
  const refused = await patch(created.location!, 0, bytes)
  t.equal(refused.status, 415, JSON.stringify(refused.body))
  t.match(refused.body.message, /PNG or JPEG/)
  t.equal(await pendingRows(), 0)
  t.same(await listObjectKeys(env.storage), imagesBefore, 'no object left')
  t.same(await incompleteUploads(), [])
})

t.test('a resumable upload counts toward the pending uploads per user: one more is refused with 429', async (t) => {
  const urls = []
  for (let i = 0; i < 5; i += 1) urls.push((await create(1000, { token: otherToken })).location!)
  const sixth = await create(1000, { token: otherToken })
  t.equal(sixth.status, 429)
  for (const url of urls) t.equal((await fetch(url, { method: 'DELETE', headers: tus(otherToken) })).status, 204)
  t.equal(await pendingRows(), 0)
})

t.test('an upload idle past RESUMABLE_UPLOAD_IDLE_SECONDS answers 410 and is removed with everything it staged', async (t) => {
  const created = await create(large.length)
  const url = created.location!
  t.equal((await patch(url, 0, large.subarray(0, 1000))).status, 204, 'some bytes arrive')
  now += 3601 * 1000
  const expired = await head(url)
  t.equal(expired.status, 410)
  t.equal(await pendingRows(), 0, 'the row is gone')
  t.same((await listObjectKeys(env.storage)).filter((key) => key.startsWith('uploads/')), [], 'no staged object')
  t.same(await incompleteUploads(), [], 'no unfinished multipart upload')
})
