import t, { type Test } from 'tap'
import sharp, { type Metadata } from 'sharp'
import { createTestEnvironment, createTestUser, jpegImage, listObjectKeys, photoPixels, startService, waitFor } from '@imageapi/testkit'

// gateway, links and a worker as separate processes, as production runs them; every rendition
// format on (AVIF is off by default), so negotiation and per-format links are seen end to end
const env = await createTestEnvironment(t)
await env.repos.renditionFormats.update('avif', { enabled: true })
const links = await startService(t, 'links', env.env)
const gateway = await startService(t, 'gateway', { ...env.env, LINKS_URL: links.url! })
const worker = await startService(t, 'thumbnail-worker', env.env)
const base = gateway.url!

const basic = await createTestUser(env.repos, 'Basic')
const premium = await createTestUser(env.repos, 'Premium')

async function login(email: string, password: string): Promise<string> {
  const response = await fetch(`${base}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })
  t.equal(response.status, 200)
  return ((await response.json()) as { access: string }).access
}

interface ImageBody {
  id: string
  format: string
  placeholder: string | null
  thumbnails: Array<{ height: number; width: number | null; status: string; url: string | null; formats?: Record<string, string> }>
  original: { url: string } | null
}

async function upload(token: string, data: Buffer, filename: string, requestId: string): Promise<ImageBody> {
  const form = new FormData()
  form.set('title', `e2e ${filename}`)
  form.set('image', new Blob([data]), filename)
  const response = await fetch(`${base}/api/images`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId }, body: form })
  t.equal(response.status, 201, `upload ${filename}`)
  return (await response.json()) as ImageBody
}

async function waitUntilReady(token: string, id: string): Promise<ImageBody> {
  return waitFor(
    async () => {
      const response = await fetch(`${base}/api/images/${id}`, { headers: { authorization: `Bearer ${token}` } })
      const body = (await response.json()) as ImageBody
      // ready in its source format, WebP and AVIF (the default formats): made by one job, recorded one after the other
      return body.thumbnails.every((x) => x.status === 'ready' && Object.keys(x.formats ?? {}).length === 3) ? body : undefined
    },
    { timeoutMs: 60_000, what: `thumbnails of ${id} in every format` },
  )
}

async function download(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers })
  const data = Buffer.from(await response.arrayBuffer())
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    vary: response.headers.get('vary'),
    data,
    meta: response.status === 200 ? await sharp(data).metadata() : undefined,
  }
}

/** EXIF a camera writes, with the place the photo was taken (the GPS IFD), and a wide-gamut ICC profile: none of it may reach a thumbnail. */
const CAMERA_EXIF = {
  IFD0: { Make: 'E2E Camera', Model: 'Model 1', Copyright: 'e2e owner', Artist: 'e2e photographer' },
  IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 300/100' },
}

/** A photo as a camera or an editor leaves it: EXIF with GPS, and a Display P3 ICC profile. */
async function cameraImage(width: number, height: number, format: 'jpeg' | 'png', options: { alpha?: boolean } = {}): Promise<Buffer> {
  const channels = options.alpha ? 4 : 3
  const image = sharp(photoPixels(width, height, channels), { raw: { width, height, channels } }).withIccProfile('p3').withExif(CAMERA_EXIF)
  return format === 'jpeg' ? image.jpeg({ quality: 85 }).toBuffer() : image.png({ compressionLevel: 3 }).toBuffer()
}

/** Whether an EXIF block (as sharp returns it: "Exif\0\0" then TIFF) has a GPSInfo pointer (tag 0x8825) in IFD0. */
function hasGpsIfd(exif: Buffer): boolean {
  const tiff = exif.subarray(exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? 6 : 0)
  const little = tiff.subarray(0, 2).toString('latin1') === 'II'
  const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at))
  const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at))
  const ifd0 = u32(4)
  for (let i = 0; i < u16(ifd0); i++) if (u16(ifd0 + 2 + i * 12) === 0x8825) return true
  return false
}

/** What a served file must not carry: EXIF (camera, GPS) and an ICC profile. */
function assertNoMetadata(t: Test, meta: Metadata | undefined, what: string) {
  t.ok(meta, `${what}: decodable`)
  t.notOk(meta?.exif, `${what}: no EXIF (camera, GPS)`)
  t.notOk(meta?.icc, `${what}: no ICC profile`)
}

const BROWSER_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8'

t.test('upload → worker → signed links, for Basic and Premium, JPEG and PNG; every served thumbnail format without the input’s EXIF, GPS or ICC profile', async (t) => {
  const premiumToken = await login(premium.email, premium.password)
  const basicToken = await login(basic.email, basic.password)
  // inputs carrying what must be stripped: EXIF (with GPS) and an ICC profile
  const photo = await cameraImage(4000, 3000, 'jpeg')
  const png = await cameraImage(900, 600, 'png', { alpha: true })
  for (const [name, input] of [['JPEG', photo], ['PNG', png]] as const) {
    const meta = await sharp(input).metadata()
    t.ok(meta.exif && meta.exif.toString('latin1').includes('E2E Camera'), `the ${name} input has EXIF`)
    t.ok(meta.exif && hasGpsIfd(meta.exif), `the ${name} input has GPS EXIF`)
    t.ok(meta.icc && meta.icc.length > 0, `the ${name} input has an ICC profile`)
  }

  const premiumJpeg = await upload(premiumToken, photo, 'photo.jpg', 'e2e-request-premium-jpeg')
  const premiumPng = await upload(premiumToken, png, 'art.png', 'e2e-request-premium-png')
  const basicJpeg = await upload(basicToken, photo, 'photo.jpg', 'e2e-request-basic-jpeg')
  const basicPng = await upload(basicToken, png, 'art.png', 'e2e-request-basic-png')

  const expectations = [
    { image: premiumJpeg, token: premiumToken, format: 'jpeg', sizes: [[200, 267], [400, 533]], original: photo },
    { image: premiumPng, token: premiumToken, format: 'png', sizes: [[200, 300], [400, 600]], original: png },
    { image: basicJpeg, token: basicToken, format: 'jpeg', sizes: [[200, 267]], original: undefined },
    { image: basicPng, token: basicToken, format: 'png', sizes: [[200, 300]], original: undefined },
  ] as const

  for (const expected of expectations) {
    const ready = await waitUntilReady(expected.token, expected.image.id)
    t.same(ready.thumbnails.map((x) => [x.height, x.width]), expected.sizes, `${expected.format} rows`)
    for (const thumbnail of ready.thumbnails) {
      const file = await download(thumbnail.url!)
      t.equal(file.status, 200)
      t.equal(file.contentType, `image/${expected.format}`)
      t.equal(file.meta?.format, expected.format)
      t.equal(file.meta?.height, thumbnail.height, 'real pixel height')
      t.equal(file.meta?.width, thumbnail.width, 'real pixel width')
      assertNoMetadata(t, file.meta, `${expected.format} ${thumbnail.height} px (default link)`)
      t.equal(file.vary, 'Accept', 'the negotiable link says it varies by Accept')
      const negotiated = await download(thumbnail.url!, { accept: BROWSER_ACCEPT })
      t.equal(negotiated.contentType, 'image/avif', "a browser's Accept gets AVIF through the gateway")
      t.same([negotiated.meta?.width, negotiated.meta?.height], [thumbnail.width, thumbnail.height], 'of the same size')
      assertNoMetadata(t, negotiated.meta, `${expected.format} ${thumbnail.height} px (negotiated AVIF)`)
      t.same(Object.keys(thumbnail.formats!).sort(), ['avif', 'webp', expected.format].sort(), 'a link per format: source, WebP, AVIF')
      for (const [format, url] of Object.entries(thumbnail.formats!)) {
        const pinned = await download(url, { accept: '*/*' })
        t.equal(pinned.status, 200, `${format} link`)
        t.equal(pinned.contentType, `image/${format}`, `the ${format} link answers in ${format}`)
        t.equal(pinned.meta?.format, format === 'avif' ? 'heif' : format)
        t.same([pinned.meta?.width, pinned.meta?.height], [thumbnail.width, thumbnail.height], `${format}: same size`)
        assertNoMetadata(t, pinned.meta, `${expected.format} ${thumbnail.height} px as ${format}`)
      }
    }
    t.ok(ready.placeholder && Buffer.from(ready.placeholder, 'base64').length > 5, 'a placeholder once ready')
    if (expected.original) {
      const original = await download(ready.original!.url)
      t.equal(original.status, 200)
      t.same(original.data, expected.original, 'the original, byte for byte')
    } else {
      t.equal(ready.original, null, 'Basic gets no original link')
      t.notOk(ready.thumbnails.some((x) => x.height === 400), 'Basic gets no 400 px')
    }
  }

  const jobLine = worker.logs.find((line) => line.requestId === 'e2e-request-premium-jpeg' && line.msg === 'thumbnails done')
  t.ok(jobLine, "the gateway's request id appears in the worker's line for the job")
})

t.test('a tampered or unknown link is 404; a deleted image leaves no objects and no working links', async (t) => {
  const token = await login(premium.email, premium.password)
  const image = await waitUntilReady(token, (await upload(token, await jpegImage(800, 600), 'gone.jpg', 'e2e-delete')).id)
  const url = image.thumbnails[0]!.url!
  const tampered = url.slice(0, -3) + (url.endsWith('AAA') ? 'BBB' : 'AAA')
  t.equal((await download(tampered)).status, 404)
  t.equal((await download(`${base}/v/not-a-token`)).status, 404)

  const before = (await listObjectKeys(env.storage)).filter((key) => key.includes(image.id))
  t.equal(before.length, 7, 'the original, and two thumbnails in three formats each, stored')
  const deleted = await fetch(`${base}/api/images/${image.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
  t.equal(deleted.status, 204)
  t.equal((await download(url)).status, 404)
  t.equal((await download(image.original!.url)).status, 404)
  t.same((await listObjectKeys(env.storage)).filter((key) => key.includes(image.id)), [])
  const again = await fetch(`${base}/api/images/${image.id}`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(again.status, 404)
})

t.test('no password, token or signed url in any service log', async (t) => {
  const token = await login(premium.email, premium.password)
  const image = await waitUntilReady(token, (await upload(token, await jpegImage(300, 200), 'secret.jpg', 'e2e-secrets')).id)
  const signedToken = image.thumbnails[0]!.url!.split('/v/')[1]!
  t.equal((await download(image.thumbnails[0]!.url!)).status, 200)
  const logs = [...gateway.output, ...links.output, ...worker.output].join('\n')
  t.ok(logs.includes('/v/[redacted]'), 'link requests are logged, without their token')
  for (const [what, secret] of [
    ['password', premium.password],
    ['access token', token],
    ['link token', signedToken],
    ['link token signature', signedToken.split('.')[2]!],
  ] as const) {
    t.notOk(logs.includes(secret), `no ${what} in the logs`)
  }
})

t.test('services stop cleanly on SIGTERM', async (t) => {
  t.equal(await worker.stop('SIGTERM'), 0)
  t.equal(await gateway.stop('SIGTERM'), 0)
  t.equal(await links.stop('SIGTERM'), 0)
})
