import t from 'tap'
import sharp from 'sharp'
import { ssim } from 'ssim.js'
import { thumbHashToApproximateAspectRatio, thumbHashToRGBA } from 'thumbhash'
import { createTestEnvironment, createTestUser, jpegImage, pngImage } from '@imageapi/testkit'
import { generateThumbnails, type GenerateThumbnailsDeps } from '../src/generate-thumbnails.js'
import { memoryLogger, storeImage, thumbnailKeys } from './support.js'

// WebP and AVIF renditions and the placeholder, made by generateThumbnails with the formats' default
// settings and AVIF turned on too (it is off by default), against this file's own Postgres database
// and S3 bucket.
const env = await createTestEnvironment(t)
await env.repos.renditionFormats.update('avif', { enabled: true })
const premium = (await createTestUser(env.repos, 'Premium')).user
const limits = { maxInputPixels: 50_000_000, maxOutputPixels: 50_000_000 }

function deps(overrides: Partial<GenerateThumbnailsDeps> = {}): GenerateThumbnailsDeps {
  return { repos: env.repos, storage: env.storage, log: memoryLogger().log, limits, ...overrides }
}

async function renditionRows(imageId: string) {
  return env.database.db.selectFrom('renditions').selectAll().where('image_id', '=', imageId).orderBy('height').orderBy('format').execute()
}

async function rgba(data: Buffer) {
  const { data: pixels, info } = await sharp(data).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  return { data: new Uint8ClampedArray(pixels), width: info.width, height: info.height }
}

t.test('a JPEG original: WebP and AVIF renditions of every height, stored, recorded ready, and alike the JPEG thumbnail in pixels', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(1200, 900))
  const result = await generateThumbnails(deps(), image.id)
  t.same(result.rendered, [200, 400])
  t.same(result.renditions, { rendered: ['200:avif', '200:webp', '400:avif', '400:webp'], failed: [], discarded: [] })
  const rows = await renditionRows(image.id)
  t.same(
    rows.map((row) => [row.height, row.format, row.status, row.object_key]),
    [
      [200, 'avif', 'ready', `thumbnails/${image.id}/200.avif`],
      [200, 'webp', 'ready', `thumbnails/${image.id}/200.webp`],
      [400, 'avif', 'ready', `thumbnails/${image.id}/400.avif`],
      [400, 'webp', 'ready', `thumbnails/${image.id}/400.webp`],
    ],
  )
  t.same(
    await thumbnailKeys(env, image.id),
    ['200.avif', '200.jpg', '200.webp', '400.avif', '400.jpg', '400.webp'].map((name) => `thumbnails/${image.id}/${name}`),
  )
  for (const height of [200, 400]) {
    const jpeg = await env.storage.getObjectBuffer(`thumbnails/${image.id}/${height}.jpg`)
    const reference = await rgba(jpeg)
    for (const row of rows.filter((r) => r.height === height)) {
      const data = await env.storage.getObjectBuffer(row.object_key!)
      t.equal(row.bytes, data.length, `${height} ${row.format}: bytes recorded`)
      const metadata = await sharp(data).metadata()
      t.equal(metadata.format, row.format === 'webp' ? 'webp' : 'heif', `${height} ${row.format}: a real ${row.format} file`)
      t.same([metadata.width, metadata.height], [reference.width, reference.height], `${height} ${row.format}: the JPEG thumbnail's size`)
      const similarity = ssim(await rgba(data), reference).mssim
      t.ok(similarity >= 0.9, `${height} ${row.format}: SSIM against the JPEG thumbnail is ${similarity.toFixed(3)} (≥ 0.9)`)
    }
  }
})

t.test('the placeholder is a ThumbHash of the image, stored once with its first thumbnails, with the image\'s aspect', async (t) => {
  const wide = await storeImage(env, premium, await pngImage(1200, 400))
  await generateThumbnails(deps(), wide.id)
  const found = await env.repos.images.findByOwner(wide.id, premium.id)
  const placeholder = found!.placeholder!
  t.ok(placeholder.length > 5 && placeholder.length < 40, `a few dozen bytes (${placeholder.length})`)
  const aspect = thumbHashToApproximateAspectRatio(placeholder)
  t.ok(Math.abs(aspect - 3) / 3 < 0.2, `aspect ${aspect.toFixed(2)} ≈ 3 (ThumbHash stores it coarsely)`)
  const decoded = thumbHashToRGBA(placeholder)
  t.ok(decoded.w > 0 && decoded.h > 0 && decoded.rgba.length === decoded.w * decoded.h * 4, `decodes to a ${decoded.w}×${decoded.h} preview`)
  t.ok(decoded.w > decoded.h, 'the preview is wide like the image')
})

t.test('no upscaling: a 16×16 original owed at 200 and 400 gets 16×16 files in every format', async (t) => {
  const tiny = await storeImage(env, premium, await pngImage(16, 16))
  await generateThumbnails(deps(), tiny.id)
  const found = await env.repos.images.findForServing(tiny.id)
  t.same(found!.thumbnails.map((row) => [row.height, row.width, row.status]), [[200, 16, 'ready'], [400, 16, 'ready']], 'rows keep the owed height, with the real width')
  for (const key of await thumbnailKeys(env, tiny.id)) {
    const metadata = await sharp(await env.storage.getObjectBuffer(key)).metadata()
    t.same([metadata.width, metadata.height], [16, 16], `${key} is 16×16`)
  }
})

t.test('a height over the output limit fails with its renditions; the other heights are made in every format', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(1200, 900))
  const result = await generateThumbnails(deps({ limits: { maxInputPixels: 50_000_000, maxOutputPixels: 100_000 } }), image.id)
  t.same(result.failed, [400])
  t.same(result.renditions.rendered, ['200:avif', '200:webp'])
  t.same(result.renditions.failed, ['400:avif', '400:webp'])
  t.match(await renditionRows(image.id), [
    { height: 200, format: 'avif', status: 'ready' },
    { height: 200, format: 'webp', status: 'ready' },
    { height: 400, format: 'avif', status: 'failed', object_key: null, error: /more than 100000 pixels/ },
    { height: 400, format: 'webp', status: 'failed', object_key: null, error: /more than 100000 pixels/ },
  ])
})

t.test('deleting an image removes its renditions\' objects with the rest', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(600, 400))
  await generateThumbnails(deps(), image.id)
  const keys = await env.repos.images.deleteByOwner(image.id, premium.id)
  t.same(
    [...keys!].sort(),
    [image.originalKey, ...['200.avif', '200.jpg', '200.webp', '400.avif', '400.jpg', '400.webp'].map((name) => `thumbnails/${image.id}/${name}`)].sort(),
    'every object of the image is returned for removal',
  )
  const recorded = await env.database.db.selectFrom('object_deletions').select('object_key').where('object_key', 'like', `thumbnails/${image.id}/%`).execute()
  t.equal(recorded.length, 6, 'and recorded in the outbox, so a failed removal is retried by the sweeper')
})

t.test('turning a format on makes existing images owe it (a backfill with progress), and the next run makes only it', async (t) => {
  await env.repos.renditionFormats.update('avif', { enabled: false })
  t.teardown(() => env.repos.renditionFormats.update('avif', { enabled: true }).then(() => undefined))
  const image = await storeImage(env, premium, await jpegImage(800, 600))
  const first = await generateThumbnails(deps(), image.id)
  t.same(first.renditions.rendered, ['200:webp', '400:webp'], 'AVIF off: WebP only')
  t.same((await env.repos.thumbnails.findOwedWork(image.id))?.owedRenditions, [], 'nothing owed')

  const turnedOn = await env.repos.renditionFormats.update('avif', { enabled: true })
  const backfill = turnedOn!.backfill!
  t.match(backfill, { reason: 'format_enabled', format: 'avif' })
  t.ok(backfill.images >= 1, 'the backfill gave work to the existing images')
  const owed = await env.repos.thumbnails.findOwedWork(image.id)
  t.same(owed?.owedHeights, [], 'the JPEG thumbnails are not owed again')
  t.same(owed?.owedRenditions.map((r) => [r.height, r.format]), [[200, 'avif'], [400, 'avif']], 'AVIF at every height is owed')
  const queued: string[] = []
  for await (const page of env.repos.backfills.pendingImagePages(backfill.id)) queued.push(...page)
  t.ok(queued.includes(image.id), 'the backfill queues the image')

  const second = await generateThumbnails(deps(), image.id)
  t.same(second.rendered, [], 'no JPEG re-made')
  t.same(second.renditions.rendered, ['200:avif', '400:avif'])
  const progress = await env.repos.backfills.find(backfill.id)
  t.match(progress, { pending: 0, failed: 0 })
  t.ok(progress!.done >= 2 && progress!.done === progress!.total, `progress counts its renditions (${progress!.done}/${progress!.total})`)
  t.equal((await env.repos.renditionFormats.update('avif', { enabled: true }))?.backfill, undefined, 'turning on a format already on owes nothing')
})
