import t, { type Test } from 'tap'
import { createTestUser, jpegImage, listObjectKeys, pngClaimingSize, pngImage } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Direct uploads (issue 16): the client PUTs the file to storage with a presigned URL, then asks the
// gateway to complete. Storage is the run's radosgw, so the URL's bindings (type, exact length,
// one key) are enforced by a real S3 server, not by this code.
let now = Date.now()
const { app, env } = await buildTestGateway(t, { UPLOAD_PENDING_PER_USER: '4', UPLOAD_MAX_PIXELS: '40000000' }, { clock: () => now })
const owner = await createTestUser(env.repos, 'Premium')
const other = await createTestUser(env.repos, 'Premium')
const ownerToken = (await login(app, owner.email, owner.password)).access
const otherToken = (await login(app, other.email, other.password)).access

interface Upload {
  id: string
  upload: { method: string; url: string; headers: Record<string, string> }
  complete_url: string
  expires_at: string
}

async function start(body: Record<string, unknown>, token = ownerToken) {
  const response = await app.inject({ method: 'POST', url: '/api/uploads', headers: { authorization: `Bearer ${token}` }, payload: body })
  return { status: response.statusCode, body: response.json() as Upload & { message?: string; field?: string } }
}

async function complete(id: string, token = ownerToken) {
  const response = await app.inject({ method: 'POST', url: `/api/uploads/${id}/complete`, headers: { authorization: `Bearer ${token}` } })
  return { status: response.statusCode, body: response.json() as Record<string, unknown> & { message?: string } }
}

/** Sends the file as the upload says (its method, URL and headers); resolves to storage's status. */
async function send(upload: Upload, file: Buffer, headers: Record<string, string> = upload.upload.headers) {
  const response = await fetch(upload.upload.url, { method: upload.upload.method, headers, body: file })
  await response.arrayBuffer()
  return response.status
}

async function pendingRows(): Promise<number> {
  const { n } = await env.database.db.selectFrom('pending_uploads').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  return Number(n)
}

async function imageRows(): Promise<number> {
  const { n } = await env.database.db.selectFrom('images').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  return Number(n)
}

async function jobCount(): Promise<number> {
  const counts = await app.thumbnailQueue.getJobCounts('wait', 'prioritized', 'active', 'delayed')
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

/** Objects, rows and jobs an ended upload could leave: none. */
async function assertNothingLeft(t: Test, imagesBefore: number, objectsBefore: string[]) {
  t.same(await listObjectKeys(env.storage), objectsBefore, 'no object left')
  t.equal(await pendingRows(), 0, 'no pending upload row')
  t.equal(await imageRows(), imagesBefore, 'no image row')
}

const png = await pngImage(640, 480)
const jpeg = await jpegImage(640, 480)

t.test('a PNG sent with the presigned PUT and completed becomes an image: 201 with the image JSON, the original byte for byte, its thumbnails queued', async (t) => {
  const jobsBefore = await jobCount()
  const started = await start({ title: 'direct', bytes: png.length, content_type: 'image/png' })
  t.equal(started.status, 201, JSON.stringify(started.body))
  t.equal(started.body.upload.method, 'PUT')
  t.same(started.body.upload.headers, { 'content-type': 'image/png', 'content-length': String(png.length) })
  t.ok(Date.parse(started.body.expires_at) - now <= 15 * 60 * 1000, 'the URL works at most 15 minutes')
  t.match(started.body.complete_url, new RegExp(`/api/uploads/${started.body.id}/complete$`))
  t.equal(await send(started.body, png), 200, 'storage took the file')

  const completed = await complete(started.body.id)
  t.equal(completed.status, 201, JSON.stringify(completed.body))
  t.equal(completed.body.id, started.body.id, 'the image has the upload\'s id')
  t.equal(completed.body.title, 'direct')
  t.equal(completed.body.bytes, png.length)
  t.same((completed.body.thumbnails as { height: number; status: string }[]).map((thumb) => [thumb.height, thumb.status]), [[200, 'pending'], [400, 'pending']])
  const key = `originals/${started.body.id}.png`
  t.ok((await env.storage.getObjectBuffer(key)).equals(png), 'the original is the file, byte for byte')
  t.same((await listObjectKeys(env.storage)).filter((k) => k.startsWith('uploads/')), [], 'the staged file is gone')
  t.equal(await pendingRows(), 0, 'the upload row became the image')
  t.equal(await jobCount(), jobsBefore + 1, 'one thumbnail job')

  const again = await complete(started.body.id)
  t.equal(again.status, 409, 'completing twice is refused')
  t.match(again.body.message, /already completed/)
  t.equal(await imageRows(), 1, 'still one image')
})

t.test('the declared size and type are checked before anything is made: too big, not PNG/JPEG, missing bytes', async (t) => {
  const objects = await listObjectKeys(env.storage)
  const tooBig = await start({ bytes: 25 * 1024 * 1024 + 1, content_type: 'image/png' })
  t.equal(tooBig.status, 413)
  t.match(tooBig.body.message, /at most \d+ bytes/)
  const wrongType = await start({ bytes: 100, content_type: 'image/gif' })
  t.equal(wrongType.status, 400)
  t.equal(wrongType.body.field, 'content_type')
  const noBytes = await start({ content_type: 'image/png' })
  t.equal(noBytes.status, 400)
  t.equal(noBytes.body.field, 'bytes')
  await assertNothingLeft(t, 1, objects)
})

t.test('storage refuses with 403 a PUT of more bytes than declared, of another type, or to another key, and stores nothing', async (t) => {
  const started = await start({ bytes: png.length, content_type: 'image/png' })
  const { url, headers } = started.body.upload
  const longer = Buffer.concat([png, Buffer.alloc(1000)])
  t.equal(await send(started.body, longer, { ...headers, 'content-length': String(longer.length) }), 403, 'more bytes than declared')
  t.equal(await send(started.body, jpeg, { 'content-type': 'image/jpeg', 'content-length': String(jpeg.length) }), 403, 'another type and length')
  const elsewhere = new URL(url)
  elsewhere.pathname = elsewhere.pathname.replace(/uploads\/direct\/[0-9a-f-]+$/, `originals/${started.body.id}.png`)
  t.equal((await fetch(elsewhere, { method: 'PUT', headers, body: png })).status, 403, 'the image\'s own key')
  t.same((await listObjectKeys(env.storage)).filter((k) => k.includes(started.body.id)), [], 'nothing stored for this upload')
  const early = await complete(started.body.id)
  t.equal(early.status, 409, 'completing before the file arrived')
  t.match(early.body.message, /no file has arrived/)
  t.equal(await pendingRows(), 1, 'the upload stays, to be sent and completed')
})

t.test('a refused file is deleted on completion, with the upload, and a 4xx that says why', async (t) => {
  await env.database.db.deleteFrom('pending_uploads').execute() // the upload never sent above
  const objects = await listObjectKeys(env.storage)
  const cases = [
    { name: 'a JPEG declared as PNG', file: jpeg, contentType: 'image/png', status: 415, message: /is a JPEG, but the upload was declared image\/png/ },
    { name: 'not an image', file: Buffer.from('<html>not an image</html>'), contentType: 'image/png', status: 415, message: /PNG or JPEG|not a/i },
    { name: 'a decompression bomb (a PNG claiming 100000×100000)', file: pngClaimingSize(100_000, 100_000), contentType: 'image/png', status: 413, message: /over the .* limit/ },
    { name: 'a truncated PNG', file: png.subarray(0, png.length - 100), contentType: 'image/png', status: 400, message: /truncated or corrupt/ },
  ]
  for (const refusal of cases) {
    const started = await start({ bytes: refusal.file.length, content_type: refusal.contentType })
    t.equal(started.status, 201, refusal.name)
    t.equal(await send(started.body, refusal.file), 200, `${refusal.name}: storage took it`)
    const completed = await complete(started.body.id)
    t.equal(completed.status, refusal.status, `${refusal.name}: ${completed.body.message}`)
    t.match(completed.body.message, refusal.message, refusal.name)
    await assertNothingLeft(t, 1, objects)
  }
})

t.test('another user cannot complete an upload: 404, and the upload stays its owner\'s to complete', async (t) => {
  const started = await start({ bytes: jpeg.length, content_type: 'image/jpeg' })
  t.equal(await send(started.body, jpeg), 200)
  const stranger = await complete(started.body.id, otherToken)
  t.equal(stranger.status, 404)
  t.equal(await pendingRows(), 1)
  const completed = await complete(started.body.id)
  t.equal(completed.status, 201)
  t.equal(completed.body.format, 'jpeg')
})

t.test('an upload completed after it expired is refused with 410, and its file and row are removed', async (t) => {
  const objects = (await listObjectKeys(env.storage)).filter((k) => !k.startsWith('uploads/'))
  const images = await imageRows()
  const started = await start({ bytes: png.length, content_type: 'image/png' })
  t.equal(await send(started.body, png), 200)
  now += 31 * 60 * 1000 // past the URL's 15 minutes and the 15 minutes' grace to complete
  const completed = await complete(started.body.id)
  t.equal(completed.status, 410)
  t.match(completed.body.message, /expired/)
  await assertNothingLeft(t, images, objects)
})

t.test('a user may have UPLOAD_PENDING_PER_USER uploads pending: one more is refused with 429, and completing one frees a place', async (t) => {
  const started = []
  for (let i = 0; i < 4; i += 1) started.push(await start({ bytes: png.length, content_type: 'image/png' }, otherToken))
  t.same(started.map((s) => s.status), [201, 201, 201, 201])
  const fifth = await start({ bytes: png.length, content_type: 'image/png' }, otherToken)
  t.equal(fifth.status, 429)
  t.match(fifth.body.message, /4 uploads pending/)
  t.equal(await send(started[0]!.body, png), 200)
  t.equal((await complete(started[0]!.body.id, otherToken)).status, 201)
  t.equal((await start({ bytes: png.length, content_type: 'image/png' }, otherToken)).status, 201, 'a place was freed')
})

t.test('complete with an id that is not a UUID, or unknown, answers 404 in the API\'s error shape', async (t) => {
  const junk = await complete('not-a-uuid')
  t.equal(junk.status, 404)
  t.match(junk.body.message, /no pending upload/)
  const unknown = await complete('00000000-0000-4000-8000-000000000000')
  t.equal(unknown.status, 404)
})

t.test('starting a direct upload spends the upload rate limit, which streamed uploads share: past it both answer 429', async (t) => {
  const limited = await buildTestGateway(t, { UPLOAD_RATE_LIMIT_PER_USER: '4' })
  const user = await createTestUser(limited.env.repos, 'Basic')
  const token = (await login(limited.app, user.email, user.password)).access
  const startOne = () =>
    limited.app.inject({ method: 'POST', url: '/api/uploads', headers: { authorization: `Bearer ${token}` }, payload: { bytes: png.length, content_type: 'image/png' } })
  // the limit also bounds half a window to half of it: 2 back to back
  t.same([(await startOne()).statusCode, (await startOne()).statusCode], [201, 201])
  t.equal((await startOne()).statusCode, 429, 'a third direct upload')
  const form = new FormData()
  form.set('image', new Blob([png]), 'photo.png')
  const streamed = await limited.app.inject({ method: 'POST', url: '/api/images', headers: { authorization: `Bearer ${token}` }, payload: form })
  t.equal(streamed.statusCode, 429, 'a streamed upload, on the same budget')
})

t.test('a JPEG whose frame header ends past the first 64 KiB read (large metadata before it) still completes, read further only as needed', async (t) => {
  const padding = [0, 1].map(() => Buffer.concat([Buffer.from([0xff, 0xe9, 0xfd, 0xea]), Buffer.alloc(65_000, 0x20)])) // two APP9 segments of 65,000 bytes
  const file = Buffer.concat([jpeg.subarray(0, 2), ...padding, jpeg.subarray(2)])
  const started = await start({ title: 'metadata first', bytes: file.length, content_type: 'image/jpeg' })
  t.equal(await send(started.body, file), 200)
  const completed = await complete(started.body.id)
  t.equal(completed.status, 201, JSON.stringify(completed.body))
  t.same([completed.body.width, completed.body.height, completed.body.format], [640, 480, 'jpeg'])
})
