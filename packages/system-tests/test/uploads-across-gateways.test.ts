import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import t from 'tap'
import sharp from 'sharp'
import { createTestEnvironment, createTestUser, listObjectKeys, startService, waitFor } from '@imageapi/testkit'

// Uploads whose bytes go to storage keep their state in Postgres and the bucket, not in a gateway:
// a resumable upload begun on one gateway process is resumed and finished on another, a direct
// upload started on one is completed on another, and the worker process makes their thumbnails.
const env = await createTestEnvironment(t)
const [first, second] = [await startService(t, 'gateway', env.env), await startService(t, 'gateway', env.env)]
await startService(t, 'thumbnail-worker', env.env)
const owner = await createTestUser(env.repos, 'Premium') // thumbnails 200 and 400 px high
const signedIn = await fetch(`${first!.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: owner.email, password: owner.password }) })
const { access } = (await signedIn.json()) as { access: string }
const tus = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${access}`, 'tus-resumable': '1.0.0', ...extra })

const photo = await sharp(randomBytes(1800 * 1400 * 3), { raw: { width: 1800, height: 1400, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer() // ~7.5 MB

async function thumbnailsReady(gatewayUrl: string, id: string): Promise<boolean> {
  const response = await fetch(`${gatewayUrl}/api/images/${id}`, { headers: { authorization: `Bearer ${access}` } })
  const body = (await response.json()) as { thumbnails: Array<{ status: string }> }
  return body.thumbnails.length === 2 && body.thumbnails.every((thumbnail) => thumbnail.status === 'ready')
}

t.test('a resumable upload cut off on one gateway is resumed (HEAD, PATCH) and finished on another; the worker makes its thumbnails', async (t) => {
  const created = await fetch(`${first!.url}/api/uploads/resumable`, { method: 'POST', headers: tus({ 'upload-length': String(photo.length), 'upload-metadata': `title ${Buffer.from('across').toString('base64')}` }) })
  t.equal(created.status, 201)
  const id = created.headers.get('location')!.split('/').pop()!

  // 6 MiB sent to the first gateway, then the connection is cut
  await new Promise<void>((resolve) => {
    const request = httpRequest(`${first!.url}/api/uploads/resumable/${id}`, {
      method: 'PATCH',
      headers: tus({ 'content-type': 'application/offset+octet-stream', 'upload-offset': '0', 'content-length': String(photo.length) }),
    })
    request.on('error', () => resolve())
    request.on('response', (response) => (response.resume(), resolve()))
    request.write(photo.subarray(0, 6 * 1024 * 1024), () => setTimeout(() => request.destroy(), 300))
  })

  const offset = await waitFor(async () => {
    const response = await fetch(`${second!.url}/api/uploads/resumable/${id}`, { method: 'HEAD', headers: tus() })
    const value = Number(response.headers.get('upload-offset'))
    return response.status === 200 && value > 0 ? value : undefined
  }, { what: 'the second gateway to report what the first received', timeoutMs: 20_000 })
  t.ok(offset <= 6 * 1024 * 1024, `the second gateway reports ${offset} bytes received`)

  const finished = await fetch(`${second!.url}/api/uploads/resumable/${id}`, {
    method: 'PATCH',
    headers: tus({ 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) }),
    body: photo.subarray(offset),
  })
  const image = (await finished.json()) as { id: string; title: string; bytes: number }
  t.equal(finished.status, 200, JSON.stringify(image))
  t.same([image.id, image.title, image.bytes], [id, 'across', photo.length])
  t.ok((await env.storage.getObjectBuffer(`originals/${id}.png`)).equals(photo), 'the original is the whole file, byte for byte')
  await waitFor(() => thumbnailsReady(first!.url!, id), { what: 'the worker to make both thumbnails', timeoutMs: 60_000 })
  t.pass('both thumbnails are ready, seen through the first gateway')
})

t.test('a direct upload started on one gateway is completed on another, and cannot be completed again on the first', async (t) => {
  const started = await fetch(`${first!.url}/api/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'direct', bytes: photo.length, content_type: 'image/png' }),
  })
  const upload = (await started.json()) as { id: string; upload: { method: string; url: string; headers: Record<string, string> } }
  t.equal(started.status, 201)
  const sent = await fetch(upload.upload.url, { method: upload.upload.method, headers: upload.upload.headers, body: photo })
  t.equal(sent.status, 200, 'storage took the file')
  const completed = await fetch(`${second!.url}/api/uploads/${upload.id}/complete`, { method: 'POST', headers: { authorization: `Bearer ${access}` } })
  t.equal(completed.status, 201)
  const again = await fetch(`${first!.url}/api/uploads/${upload.id}/complete`, { method: 'POST', headers: { authorization: `Bearer ${access}` } })
  t.equal(again.status, 409, 'completed twice')
  await waitFor(() => thumbnailsReady(second!.url!, upload.id), { what: 'the worker to make both thumbnails', timeoutMs: 60_000 })
  t.same((await listObjectKeys(env.storage)).filter((key) => key.startsWith('uploads/')), [], 'nothing staged is left')
})
