import t from 'tap'
import sharp, { type Metadata } from 'sharp'
import { crc32 } from 'node:zlib'
import { createTestUser, jpegImage, listObjectKeys, multipartBody, photoPixels, pngClaimingSize, pngImage, startService, waitFor } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

const { app, env } = await buildTestGateway(t, { UPLOAD_RATE_LIMIT_PER_USER: '0' })
await startService(t, 'thumbnail-worker', env.env)
const user = await createTestUser(env.repos, 'Premium')
const token = (await login(app, user.email, user.password)).access

async function upload(data: Buffer, filename = 'x') {
  const { body, headers } = multipartBody({ image: { filename, data } })
  return app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })
}

async function readyThumbnails(id: string) {
  return waitFor(async () => {
    const image = (await app.inject({ url: `/api/images/${id}`, headers: { authorization: `Bearer ${token}` } })).json()
    return image.thumbnails.every((x: { status: string }) => x.status !== 'pending') ? image : undefined
  }, { what: `thumbnails of ${id}`, timeoutMs: 60_000 })
}

/** The thumbnail in its source format (its WebP and AVIF renditions sit beside it). */
async function thumbnailBytes(id: string, height: number): Promise<Buffer> {
  const key = (await listObjectKeys(env.storage)).find((k) => k.startsWith(`thumbnails/${id}/${height}.`) && /\.(jpg|png)$/.test(k))
  return env.storage.getObjectBuffer(key!)
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32 ? crc32(body) >>> 0 : 0)
  return Buffer.concat([length, body, crc])
}

/** An animated PNG: the default image plus a second frame (acTL, fcTL, fdAT chunks). */
async function animatedPng(): Promise<Buffer> {
  const png = await sharp(photoPixels(64, 48), { raw: { width: 64, height: 48, channels: 3 } }).png().toBuffer()
  const ihdr = png.subarray(8, 33)
  const compressed: Buffer[] = []
  for (let at = 8; at < png.length; at += 12 + png.readUInt32BE(at)) {
    if (png.toString('ascii', at + 4, at + 8) === 'IDAT') compressed.push(png.subarray(at + 8, at + 8 + png.readUInt32BE(at)))
  }
  const idatData = Buffer.concat(compressed)
  const frameControl = (sequence: number) => {
    const data = Buffer.alloc(26)
    data.writeUInt32BE(sequence, 0)
    data.writeUInt32BE(64, 4)
    data.writeUInt32BE(48, 8)
    data.writeUInt16BE(1, 20)
    data.writeUInt16BE(10, 22)
    return pngChunk('fcTL', data)
  }
  const actl = Buffer.alloc(8)
  actl.writeUInt32BE(2, 0)
  const seq = Buffer.alloc(4)
  seq.writeUInt32BE(2)
  return Buffer.concat([png.subarray(0, 8), ihdr, pngChunk('acTL', actl), frameControl(0), pngChunk('IDAT', idatData), frameControl(1), pngChunk('fdAT', Buffer.concat([seq, idatData])), pngChunk('IEND', Buffer.alloc(0))])
}

/** A real JPEG whose frame header is patched to claim another size. */
async function jpegClaimingSize(width: number, height: number): Promise<Buffer> {
  const jpeg = Buffer.from(await jpegImage(64, 48))
  for (let i = 2; i < jpeg.length - 9; i++) {
    if (jpeg[i] === 0xff && jpeg[i + 1] === 0xc0) {
      jpeg.writeUInt16BE(height, i + 5)
      jpeg.writeUInt16BE(width, i + 7)
      return jpeg
    }
  }
  throw new Error('no SOF0')
}

t.test('decompression bombs are refused from the header, before any decode', async (t) => {
  for (const [name, data] of [
    ['PNG declaring 50000×50000', pngClaimingSize(50_000, 50_000)],
    ['JPEG declaring 65000×65000', await jpegClaimingSize(65_000, 65_000)],
  ] as const) {
    const response = await upload(data)
    t.equal(response.statusCode, 413, name)
    t.match(response.json().message, /over the 50 MP limit/, name)
  }
})

t.test('formats we do not take are refused with 415: GIF, WebP (animated or not)', async (t) => {
  const gif = await sharp(photoPixels(32, 32), { raw: { width: 32, height: 32, channels: 3 } }).gif().toBuffer()
  const webp = await sharp(photoPixels(32, 32), { raw: { width: 32, height: 32, channels: 3 } }).webp().toBuffer()
  for (const data of [gif, webp]) t.equal((await upload(data)).statusCode, 415)
})

t.test('an animated PNG is taken as its default image', async (t) => {
  const response = await upload(await animatedPng(), 'anim.png')
  t.equal(response.statusCode, 201, response.body)
  const image = await readyThumbnails(response.json().id)
  t.same(image.thumbnails.map((x: { status: string; width: number; error?: string }) => [x.status, x.width, x.error]), [['ready', 64, undefined], ['ready', 64, undefined]], 'a 64×48 image is never enlarged')
  const meta = await sharp(await thumbnailBytes(image.id, 200)).metadata()
  t.equal(meta.pages ?? 1, 1, 'one frame out')
})

t.test('CMYK JPEG, 16-bit PNG and grey+alpha PNG come out right', async (t) => {
  const cmyk = await sharp(photoPixels(300, 200), { raw: { width: 300, height: 200, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer()
  const deep = await sharp(photoPixels(300, 200), { raw: { width: 300, height: 200, channels: 3 } }).toColourspace('rgb16').png().toBuffer()
  const greyAlpha = await sharp(photoPixels(300, 200, 4), { raw: { width: 300, height: 200, channels: 4 } }).toColourspace('b-w').png().toBuffer()
  t.equal((await sharp(cmyk).metadata()).space, 'cmyk')
  t.equal((await sharp(deep).metadata()).depth, 'ushort')
  t.equal((await sharp(greyAlpha).metadata()).channels, 2)

  const expectations: Array<[string, Buffer, (meta: Metadata) => void]> = [
    ['cmyk', cmyk, (meta) => (t.equal(meta.format, 'jpeg'), t.equal(meta.space, 'srgb'), t.equal(meta.channels, 3))],
    ['16-bit', deep, (meta) => (t.equal(meta.format, 'png'), t.equal(meta.depth, 'uchar'))],
    ['grey+alpha', greyAlpha, (meta) => (t.equal(meta.format, 'png'), t.equal(meta.hasAlpha, true), t.equal(meta.channels, 2))],
  ]
  for (const [name, data, check] of expectations) {
    const response = await upload(data, `${name}.img`)
    t.equal(response.statusCode, 201, name)
    const image = await readyThumbnails(response.json().id)
    t.equal(image.thumbnails[0].status, 'ready', name)
    const meta = await sharp(await thumbnailBytes(image.id, 200)).metadata()
    t.equal(meta.height, 200, name)
    t.equal(meta.width, 300, name)
    check(meta)
  }
})

t.test('EXIF-rotated JPEGs, all 8 orientations: thumbnails upright, sizes swapped where they should be', async (t) => {
  // a photo with a red block in its stored top-left corner shows where each orientation puts it
  const width = 300
  const height = 200
  const pixels = photoPixels(width, height)
  for (let y = 0; y < 40; y++) for (let x = 0; x < 60; x++) pixels.set([255, 0, 0], (y * width + x) * 3)
  for (let orientation = 1; orientation <= 8; orientation++) {
    const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer()
    const response = await upload(jpeg, `o${orientation}.jpg`)
    t.equal(response.statusCode, 201)
    const quarterTurn = orientation >= 5
    t.match(response.json(), { width: quarterTurn ? 200 : 300, height: quarterTurn ? 300 : 200 }, `orientation ${orientation}: displayed size`)
    const image = await readyThumbnails(response.json().id)
    const thumbnail = await thumbnailBytes(image.id, 200)
    const meta = await sharp(thumbnail).metadata()
    t.equal(meta.orientation, undefined, `orientation ${orientation}: no EXIF orientation left`)
    t.same([meta.width, meta.height], [quarterTurn ? 133 : 300, 200], `orientation ${orientation}: thumbnail size`)
    // the oracle: the original turned upright by an independent pipeline, at the same size
    const expected = await sharp(jpeg).rotate().resize({ height: 200, width: meta.width, fit: 'fill' }).raw().toBuffer()
    const actual = await sharp(thumbnail).raw().toBuffer()
    let difference = 0
    for (let i = 0; i < actual.length; i++) difference += Math.abs(actual[i]! - expected[i]!)
    t.ok(difference / actual.length < 12, `orientation ${orientation}: pixels upright (mean difference ${(difference / actual.length).toFixed(2)})`)
  }
})

t.test('hostile file names never reach a storage key', async (t) => {
  for (const filename of ['../../etc/passwd', 'a\u0000b.jpg', `${'x'.repeat(2000)}.jpg`, '..\\..\\win.ini']) {
    const response = await upload(await jpegImage(40, 30), filename)
    t.equal(response.statusCode, 201)
  }
  for (const key of await listObjectKeys(env.storage)) t.match(key, /^(originals\/[0-9a-f-]{36}\.(jpg|png)|thumbnails\/[0-9a-f-]{36}\/\d+\.(jpg|png|webp|avif))$/, key)
})
