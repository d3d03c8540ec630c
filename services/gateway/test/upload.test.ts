import t from 'tap'
import { createTestUser, jpegImage, listObjectKeys, multipartBody, pngClaimingSize, pngImage } from '@imageapi/testkit'
import { THUMBNAIL_QUEUE, thumbnailJobId } from '@imageapi/queue'
import { buildTestGateway, login } from './helpers/build-test-app.js'

const { app, env } = await buildTestGateway(t)
const basic = await createTestUser(env.repos, 'Basic')
const premium = await createTestUser(env.repos, 'Premium')
const basicToken = (await login(app, basic.email, basic.password)).access
const premiumToken = (await login(app, premium.email, premium.password)).access

function upload(token: string | undefined, fields: Parameters<typeof multipartBody>[0]) {
  const { body, headers } = multipartBody(fields)
  return app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } })
}

async function counts() {
  const images = await env.database.db.selectFrom('images').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  const thumbnails = await env.database.db.selectFrom('thumbnails').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  const jobs = await app.thumbnailQueue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed')
  return {
    images: Number(images.n),
    thumbnails: Number(thumbnails.n),
    objects: (await listObjectKeys(env.storage)).length,
    jobs: Object.values(jobs).reduce((a, b) => a + b, 0),
  }
}

t.test('a Premium JPEG upload: 201, the resource, the stored original, pending rows and one job', async (t) => {
  const jpeg = await jpegImage(640, 480)
  const response = await upload(premiumToken, { title: 'Holiday 🏖 <b>"x"</b>', image: { filename: 'photo.jpg', contentType: 'image/jpeg', data: jpeg } })
  t.equal(response.statusCode, 201, response.body)
  const image = response.json()
  t.match(image, { title: 'Holiday 🏖 <b>"x"</b>', width: 640, height: 480, format: 'jpeg', bytes: jpeg.length })
  t.match(image.id, /^[0-9a-f-]{36}$/)
  t.same(image.thumbnails.map((x: { height: number; status: string }) => [x.height, x.status]), [[200, 'pending'], [400, 'pending']])
  t.match(image.original.url, /^http:\/\/localhost(:\d+)?\/v\/[A-Za-z0-9_.-]+$/)
  t.equal(response.headers.location, `/api/images/${image.id}`)

  const keys = await listObjectKeys(env.storage)
  const original = keys.find((k) => k.includes(image.id))
  t.ok(original, 'original stored under a key made from the image id')
  t.same(await env.storage.getObjectBuffer(original!), jpeg, 'byte-exact original')
  const job = await app.thumbnailQueue.getJob(thumbnailJobId(image.id))
  t.equal(job?.name, 'render')
  t.equal(job?.data.imageId, image.id)
  t.equal(job?.data.requestId, response.headers['x-request-id'])
  t.equal(job?.queueName, THUMBNAIL_QUEUE)
})

t.test('a Basic PNG upload owes only 200 px and has no original link', async (t) => {
  const response = await upload(basicToken, { image: { filename: 'a.png', data: await pngImage(300, 150, { alpha: true }) } })
  t.equal(response.statusCode, 201, response.body)
  const image = response.json()
  t.equal(image.format, 'png')
  t.equal(image.title, '')
  t.same(image.thumbnails.map((x: { height: number }) => x.height), [200])
  t.equal(image.original, null)
})

t.test('an EXIF-rotated JPEG reports its displayed size', async (t) => {
  const response = await upload(basicToken, { image: { filename: 'r.jpg', data: await jpegImage(400, 100, { orientation: 6 }) } })
  t.equal(response.statusCode, 201)
  t.match(response.json(), { width: 100, height: 400 })
})

t.test('bad input: a 4xx JSON error naming the problem, and nothing left behind', async (t) => {
  const jpeg = await jpegImage(64, 48)
  const cases: Array<{ name: string; token?: string; fields: Parameters<typeof multipartBody>[0]; status: number; message: RegExp; field?: string }> = [
    { name: 'text bytes named photo.jpg', fields: { image: { filename: 'photo.jpg', contentType: 'image/jpeg', data: Buffer.from('hello, I am not a picture '.repeat(10)) } }, status: 415, message: /not a PNG or JPEG/, field: 'image' },
    { name: 'truncated JPEG', fields: { image: { filename: 't.jpg', data: jpeg.subarray(0, Math.floor(jpeg.length / 2)) } }, status: 400, message: /truncated or corrupt/, field: 'image' },
    { name: 'zero-byte file', fields: { image: { filename: 'empty.png', data: Buffer.alloc(0) } }, status: 400, message: /empty/i, field: 'image' },
    { name: 'PNG claiming 30000×30000', fields: { image: { filename: 'bomb.png', data: pngClaimingSize(30000, 30000) } }, status: 413, message: /MP/, field: 'image' },
    { name: 'no image field', fields: { title: 'x' }, status: 400, message: /image/, field: 'image' },
    { name: 'image sent as a text field', fields: { image: 'not a file' }, status: 400, message: /must be a file/, field: 'image' },
    { name: '101-character title', fields: { title: 'x'.repeat(101), image: { filename: 'ok.jpg', data: jpeg } }, status: 400, message: /at most 100 characters/, field: 'title' },
    { name: 'title with a NUL byte', fields: { title: 'a\u0000b', image: { filename: 'ok.jpg', data: jpeg } }, status: 400, message: /control characters/, field: 'title' },
  ]
  const before = await counts()
  for (const c of cases) {
    const response = await upload(c.token ?? premiumToken, c.fields)
    t.equal(response.statusCode, c.status, `${c.name}: status (${response.body})`)
    t.match(response.headers['content-type'], /application\/json/, `${c.name}: JSON`)
    t.match(response.json().message, c.message, `${c.name}: message`)
    if (c.field) t.equal(response.json().field, c.field, `${c.name}: field`)
  }
  t.same(await counts(), before, 'no object, row or job left behind')
})

t.test('a file over the byte limit is refused with 413 and leaves nothing', async (t) => {
  const small = await buildTestGateway(t, { UPLOAD_MAX_BYTES: '2000' })
  const user = await createTestUser(small.env.repos, 'Basic')
  const token = (await login(small.app, user.email, user.password)).access
  const { body, headers } = multipartBody({ image: { filename: 'big.jpg', data: await jpegImage(400, 300) } })
  const response = await small.app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })
  t.equal(response.statusCode, 413)
  t.equal(response.json().field, 'image')
  t.same(await listObjectKeys(small.env.storage), [])
})

t.test('no token, a garbage token, a refresh token: 401 and nothing stored', async (t) => {
  const before = await counts()
  const refresh = (await login(app, basic.email, basic.password)).refresh
  const data = await jpegImage(64, 48)
  for (const token of [undefined, 'garbage', refresh]) {
    const response = await upload(token, { image: { filename: 'x.jpg', data } })
    t.equal(response.statusCode, 401)
    t.ok(response.json().detail)
  }
  t.same(await counts(), before)
})

t.test('a body that is not multipart is refused with 415', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/images', payload: { image: 'x' }, headers: { authorization: `Bearer ${basicToken}` } })
  t.equal(response.statusCode, 415)
  t.match(response.json().message, /multipart/)
})
