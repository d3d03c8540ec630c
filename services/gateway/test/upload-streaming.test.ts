import t from 'tap'
import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import sharp from 'sharp'
import { createTestUser, listObjectKeys, multipartBody, pngClaimingSize, s3AdminClient, waitFor } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Uploads go straight into storage as they arrive: multipart once a file passes one part (5 MiB).
// A refusal that comes after parts were sent must abort the multipart upload, so that storage keeps
// no object and no part of it. Over real HTTP, so the body really arrives in pieces.
const MAX_BYTES = 16 * 1024 * 1024
const { app, env } = await buildTestGateway(t, { UPLOAD_MAX_BYTES: String(MAX_BYTES) })
const address = await app.listen({ port: 0, host: '127.0.0.1' })
const admin = await createTestUser(env.repos, 'Premium', { isAdmin: true })
const token = (await login(app, admin.email, admin.password)).access
const s3 = s3AdminClient(env.s3)

/** A PNG of random pixels, stored uncompressed: about width × height × 3 bytes. */
async function noisePng(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer()
}
const large = await noisePng(2000, 2000) // ~12 MB: three parts
const tooLarge = await noisePng(2600, 2400) // ~18.7 MB: over the 16 MiB limit after three parts went out

type Form = { body: Buffer; headers: Record<string, string> }

/** Two files in the field "image": multipartBody takes one value per name. */
function twoFiles(first: Buffer, second: Buffer): Form {
  const one = multipartBody({ image: { filename: 'one.png', data: first } })
  const boundary = /boundary=(.*)$/.exec(one.headers['content-type']!)![1]!
  const opening = one.body.subarray(0, one.body.length - `--${boundary}--\r\n`.length)
  const again = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="two.png"\r\nContent-Type: image/png\r\n\r\n`)
  const body = Buffer.concat([opening, again, second, Buffer.from(`\r\n--${boundary}--\r\n`)])
  return { body, headers: { ...one.headers, 'content-length': String(body.length) } }
}

async function post(path: string, form: Form | Parameters<typeof multipartBody>[0]) {
  const { body, headers } = Buffer.isBuffer(form.body) ? (form as Form) : multipartBody(form as Parameters<typeof multipartBody>[0])
  const response = await fetch(`${address}${path}`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

async function incompleteUploads(): Promise<string[]> {
  const keys: string[] = []
  for await (const upload of s3.listIncompleteUploads(env.s3.bucket, '', true)) keys.push(upload.key)
  return keys
}

/** Everything an upload can leave behind: objects, incomplete multipart uploads, rows, jobs. */
async function leftovers() {
  const images = await env.database.db.selectFrom('images').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  const jobs = await app.thumbnailQueue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed')
  return {
    objects: await listObjectKeys(env.storage),
    incompleteUploads: await incompleteUploads(),
    images: Number(images.n),
    jobs: Object.values(jobs).reduce((a, b) => a + b, 0),
  }
}
const nothing = { objects: [], incompleteUploads: [], images: 0, jobs: 0 }

t.test('a 12 MB PNG goes into storage as it arrives: 201, the object byte for byte, one row', async (t) => {
  const response = await post('/api/images', { title: 'large', image: { filename: 'large.png', data: large } })
  t.equal(response.status, 201, JSON.stringify(response.body))
  t.equal(response.body.bytes, large.length)
  const key = `originals/${response.body.id as string}.png`
  t.same(await listObjectKeys(env.storage), [key])
  const info = await env.storage.statObject(key)
  t.equal(info?.size, large.length)
  t.match(info?.etag, /-3$/, 'stored as a multipart upload of three parts')
  t.ok((await env.storage.getObjectBuffer(key)).equals(large), 'byte-exact')
  t.same(await incompleteUploads(), [])
  // clean up for the refusal cases, which expect an empty store
  const deleted = await fetch(`${address}/api/images/${response.body.id as string}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
  t.equal(deleted.status, 204)
  await env.database.db.deleteFrom('images').execute()
  await app.thumbnailQueue.obliterate({ force: true })
  t.same(await leftovers(), nothing)
})

const refusals: Array<{ name: string; path?: string; fields: () => Form | Parameters<typeof multipartBody>[0]; status: number; error: RegExp }> = [
  { name: 'over the byte limit after three parts were sent', fields: () => ({ image: { filename: 'huge.png', data: tooLarge } }), status: 413, error: /exceeds/ },
  { name: 'truncated after three parts were sent', fields: () => ({ image: { filename: 'cut.png', data: large.subarray(0, large.length - 1000) } }), status: 400, error: /truncated or corrupt/ },
  { name: 'not an image', fields: () => ({ image: { filename: 'x.png', data: randomBytes(7 * 1024 * 1024) } }), status: 415, error: /not a PNG or JPEG/ },
  { name: 'a header claiming too many pixels', fields: () => ({ image: { filename: 'bomb.png', data: pngClaimingSize(30000, 30000) } }), status: 413, error: /MP/ },
  { name: 'a valid file followed by a bad title', fields: () => ({ image: { filename: 'ok.png', data: large }, title: 'x'.repeat(101) }), status: 400, error: /at most 100 characters/ },
  { name: 'a valid file followed by a second file', fields: () => twoFiles(large, large.subarray(0, 1000)), status: 400, error: /send exactly one file/ },
  {
    name: 'a compat upload whose form is invalid after a valid file (no title)',
    path: '/api/upload/original/',
    fields: () => ({ image: { filename: 'ok.png', data: large }, expired_time: 'soon' }),
    status: 400,
    error: /"title":\["This field is required."\]/,
  },
]

for (const refusal of refusals) {
  t.test(`refused upload, ${refusal.name}: ${refusal.status}, and no object, no incomplete multipart upload, no row, no job`, async (t) => {
    const response = await post(refusal.path ?? '/api/images', refusal.fields())
    t.equal(response.status, refusal.status, JSON.stringify(response.body))
    t.match(JSON.stringify(response.body), refusal.error)
    t.same(await leftovers(), nothing)
  })
}

t.test('a client that goes away half-way through a large upload leaves no object and no incomplete multipart upload', async (t) => {
  const { body, headers } = multipartBody({ image: { filename: 'dropped.png', data: large } })
  const cut = 8 * 1024 * 1024
  await new Promise<void>((resolve) => {
    const request = httpRequest(`${address}/api/images`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` } })
    request.on('error', () => resolve())
    request.on('response', () => resolve())
    request.write(body.subarray(0, cut))
    // drop the connection once the gateway has begun a multipart upload with its first part
    waitFor(async () => ((await incompleteUploads()).length === 1 ? true : undefined), { what: 'a multipart upload in progress', timeoutMs: 20_000 })
      .then(() => t.pass('a multipart upload was in progress when the client went away'))
      .catch((error: Error) => t.fail(error.message))
      .finally(() => {
        request.destroy()
        resolve()
      })
  })
  const settled = await waitFor(async () => {
    const state = await leftovers()
    return state.objects.length === 0 && state.incompleteUploads.length === 0 ? state : undefined
  }, { what: 'the aborted upload to be cleaned up', timeoutMs: 20_000 })
  t.same(settled, nothing)
})
