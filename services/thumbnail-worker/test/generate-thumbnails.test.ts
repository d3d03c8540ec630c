import t from 'tap'
import sharp from 'sharp'
import { createTestEnvironment, createTestUser, jpegImage, listObjectKeys, pngImage } from '@imageapi/testkit'
import { StorageUnavailableError, type ObjectStorage } from '@imageapi/storage'
import { createThumbnailQueue } from '@imageapi/queue'
import { thumbnailKey } from '@imageapi/media'
import { generateThumbnails, PermanentThumbnailError, type GenerateThumbnailsDeps } from '../src/generate-thumbnails.js'
import { reconcileOnce } from '../src/reconciler.js'
import { memoryLogger, notAnImage, sourceFormatOnly, storeImage, thumbnailKeys, thumbnailRows } from './support.js'

// generateThumbnails in this process, against this file's own Postgres database and S3 bucket.
const env = await createTestEnvironment(t)
// the source-format path; WebP/AVIF renditions and placeholders: generate-renditions.test.ts
await sourceFormatOnly(env)
const premium = (await createTestUser(env.repos, 'Premium')).user
const basic = (await createTestUser(env.repos, 'Basic')).user
const limits = { maxInputPixels: 50_000_000, maxOutputPixels: 50_000_000 }

function deps(overrides: Partial<GenerateThumbnailsDeps> = {}): GenerateThumbnailsDeps & { lines: Array<Record<string, unknown>> } {
  const { log, lines } = memoryLogger()
  return { repos: env.repos, storage: env.storage, log, limits, lines, ...overrides }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

t.test('a JPEG original: every owed row becomes ready with its width, objects are JPEGs at thumbnails/<id>/<height>.jpg', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(1200, 900))
  const result = await generateThumbnails(deps(), image.id)
  t.same(result, { format: 'jpeg', rendered: [200, 400], failed: [], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } })

  const rows = await thumbnailRows(env, image.id)
  t.same(
    rows.map((row) => [row.height, row.status, row.width, row.object_key, row.error]),
    [
      [200, 'ready', 267, `thumbnails/${image.id}/200.jpg`, null],
      [400, 'ready', 533, `thumbnails/${image.id}/400.jpg`, null],
    ],
  )
  t.same(await thumbnailKeys(env, image.id), [`thumbnails/${image.id}/200.jpg`, `thumbnails/${image.id}/400.jpg`])
  for (const row of rows) {
    const data = await env.storage.getObjectBuffer(row.object_key!)
    t.equal(row.bytes, data.length, `${row.height}: bytes recorded`)
    t.match(await sharp(data).metadata(), { format: 'jpeg', width: row.width, height: row.height }, `${row.height}: real JPEG of that size`)
  }
})

t.test('a PNG original: thumbnails are PNGs at thumbnails/<id>/<height>.png', async (t) => {
  const image = await storeImage(env, premium, await pngImage(600, 400, { alpha: true }))
  t.same(await generateThumbnails(deps(), image.id), { format: 'png', rendered: [200, 400], failed: [], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } })
  t.equal(thumbnailKey(image.id, 200, 'png'), `thumbnails/${image.id}/200.png`)
  const rows = await thumbnailRows(env, image.id)
  t.same(
    rows.map((row) => [row.height, row.status, row.width, row.object_key]),
    [
      [200, 'ready', 300, `thumbnails/${image.id}/200.png`],
      [400, 'ready', 600, `thumbnails/${image.id}/400.png`],
    ],
  )
  for (const row of rows) {
    t.match(await sharp(await env.storage.getObjectBuffer(row.object_key!)).metadata(), { format: 'png', width: row.width, height: row.height, hasAlpha: true })
  }
})

t.test('every height is stored at once and marked ready in one statement', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(1200, 900))
  // the real storage, watched: how many puts are in flight at the same time
  let inFlight = 0
  let mostInFlight = 0
  const watchedStorage: ObjectStorage = {
    ...env.storage,
    async putObject(...args) {
      mostInFlight = Math.max(mostInFlight, ++inFlight)
      try {
        await env.storage.putObject(...args)
      } finally {
        inFlight--
      }
    },
  }
  t.same((await generateThumbnails(deps({ storage: watchedStorage }), image.id)).rendered, [200, 400])
  t.equal(mostInFlight, 2, 'both puts in flight together')
  const rows = await thumbnailRows(env, image.id)
  t.same(rows.map((row) => row.status), ['ready', 'ready'])
  t.equal(rows[0]!.updated_at.getTime(), rows[1]!.updated_at.getTime(), 'one UPDATE: one timestamp for both rows')
})

t.test('a failing put fails the run only once every other put has settled; nothing is marked ready', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(1200, 900))
  const settledPuts: string[] = []
  const failingStorage: ObjectStorage = {
    ...env.storage,
    async putObject(key, ...rest) {
      if (key.endsWith('/200.jpg')) throw new StorageUnavailableError('storage went away')
      await env.storage.putObject(key, ...rest)
      settledPuts.push(key)
    },
  }
  const error = await rejection(generateThumbnails(deps({ storage: failingStorage }), image.id))
  t.type(error, StorageUnavailableError)
  t.same(settledPuts, [`thumbnails/${image.id}/400.jpg`], 'the other put had finished when the run failed')
  t.same((await thumbnailRows(env, image.id)).map((row) => row.status), ['pending', 'pending'], 'a retry makes both')
})

t.test('a height the owner\'s tier no longer grants is not rendered (Basic user with a pending 400 row)', async (t) => {
  const image = await storeImage(env, basic, await jpegImage(800, 600), { heights: [200, 400] })
  t.same(await generateThumbnails(deps(), image.id), { format: 'jpeg', rendered: [200], failed: [], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } })
  const rows = await thumbnailRows(env, image.id)
  t.same(
    rows.map((row) => [row.height, row.status, row.object_key]),
    [
      [200, 'ready', `thumbnails/${image.id}/200.jpg`],
      [400, 'pending', null],
    ],
  )
  t.same(await thumbnailKeys(env, image.id), [`thumbnails/${image.id}/200.jpg`], 'no 400 px object')
})

t.test('an image deleted while its thumbnails render: objects written afterwards are removed, nothing is left', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(800, 600))
  // The owner deletes the image right after the worker has read the original (as the gateway's
  // DELETE does: rows and deletion records in one transaction, then the objects).
  const deletingStorage: ObjectStorage = {
    ...env.storage,
    async getObjectBuffer(key) {
      const data = await env.storage.getObjectBuffer(key)
      const keys = await env.repos.images.deleteByOwner(image.id, premium.id)
      t.same(keys, [image.originalKey], 'deleted while rendering; only the original had an object yet')
      await env.storage.removeObjects(keys!)
      await env.repos.objectDeletions.confirm(keys!)
      return data
    },
  }
  const run = deps({ storage: deletingStorage })
  t.same(await generateThumbnails(run, image.id), { format: 'jpeg', rendered: [], failed: [], discarded: [200, 400], renditions: { rendered: [], failed: [], discarded: [] } }, 'nothing counts as rendered')
  t.same(await thumbnailRows(env, image.id), [], 'no rows')
  t.same((await listObjectKeys(env.storage)).filter((key) => key.includes(image.id)), [], 'no objects for the image')
  t.same(
    run.lines.filter((line) => line.msg === 'thumbnail no longer owed; removed').map((line) => line.height),
    [200, 400],
  )
})

t.test('an image deleted while rendering, and storage failing to remove the new objects: the reconciler removes them later', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(800, 600))
  let removals = 0
  const flakyStorage: ObjectStorage = {
    ...env.storage,
    async getObjectBuffer(key) {
      const data = await env.storage.getObjectBuffer(key)
      await env.storage.removeObjects((await env.repos.images.deleteByOwner(image.id, premium.id))!)
      await env.repos.objectDeletions.confirm([image.originalKey])
      return data
    },
    async removeObjects() {
      removals++
      throw new StorageUnavailableError('storage went away')
    },
  }
  const error = await rejection(generateThumbnails(deps({ storage: flakyStorage }), image.id))
  t.type(error, StorageUnavailableError, 'the run fails (and would be retried)')
  t.equal(removals, 1, 'one removal for both heights')
  const leftovers = [`thumbnails/${image.id}/200.jpg`, `thumbnails/${image.id}/400.jpg`]
  t.same((await listObjectKeys(env.storage)).filter((key) => key.includes(image.id)), leftovers, 'the objects written before the rows were found gone')
  t.same((await env.repos.objectDeletions.listOlderThan(new Date(Date.now() + 1_000), 10)).sort(), leftovers, 'recorded for the sweeper')
  t.same(await generateThumbnails(deps(), image.id), { rendered: [], failed: [], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } }, 'a retry finds nothing owed')

  const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
  t.teardown(() => queue.close())
  const swept = await reconcileOnce({ repos: env.repos, storage: env.storage, queue, log: memoryLogger().log, pendingAfterMs: 60_000, now: () => Date.now() + 120_000 })
  t.equal(swept.objectsRemoved, 2)
  t.same((await listObjectKeys(env.storage)).filter((key) => key.includes(image.id)), [], 'nothing left')
})

t.test('an image deleted before the job runs: nothing is read or written', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(400, 300))
  await env.storage.removeObjects((await env.repos.images.deleteByOwner(image.id, premium.id))!)
  t.same(await generateThumbnails(deps(), image.id), { rendered: [], failed: [], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } })
  t.same((await listObjectKeys(env.storage)).filter((key) => key.includes(image.id)), [])
})

t.test('a missing original is a PermanentThumbnailError and rows stay for the caller to mark', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(400, 300), { storeOriginal: false })
  const error = await rejection(generateThumbnails(deps(), image.id))
  t.type(error, PermanentThumbnailError)
  t.match(error, { name: 'PermanentThumbnailError', message: 'the original file is missing from storage' })
  t.same((await thumbnailRows(env, image.id)).map((row) => row.status), ['pending', 'pending'])
  t.same(await thumbnailKeys(env, image.id), [])
})

t.test('an undecodable original (random bytes) is a PermanentThumbnailError about decoding', async (t) => {
  const image = await storeImage(env, premium, notAnImage(), { format: 'jpeg' })
  const error = await rejection(generateThumbnails(deps(), image.id))
  t.type(error, PermanentThumbnailError)
  t.match((error as Error).message, /^the image could not be decoded: cannot read image/)
  t.same(await thumbnailKeys(env, image.id), [], 'nothing written')
})

t.test('a thumbnail over the output limit fails alone; the others are rendered', async (t) => {
  const image = await storeImage(env, premium, await jpegImage(1200, 900))
  const result = await generateThumbnails(deps({ limits: { maxInputPixels: 50_000_000, maxOutputPixels: 100_000 } }), image.id)
  t.same(result, { format: 'jpeg', rendered: [200], failed: [400], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } })
  const rows = await thumbnailRows(env, image.id)
  t.match(rows, [
    { height: 200, status: 'ready', width: 267 },
    { height: 400, status: 'failed', object_key: null, error: /533×400.*more than 100000 pixels/ },
  ])
  t.same(await thumbnailKeys(env, image.id), [`thumbnails/${image.id}/200.jpg`])
})

t.test('running twice, one after the other or at the same time, leaves exactly one object per height', async (t) => {
  const sequential = await storeImage(env, premium, await jpegImage(1000, 750))
  t.same((await generateThumbnails(deps(), sequential.id)).rendered, [200, 400])
  const before = await thumbnailRows(env, sequential.id)
  t.same(await generateThumbnails(deps(), sequential.id), { rendered: [], failed: [], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } }, 'second run finds nothing owed')
  t.same(await thumbnailRows(env, sequential.id), before, 'rows unchanged by the second run')
  t.same(await thumbnailKeys(env, sequential.id), [`thumbnails/${sequential.id}/200.jpg`, `thumbnails/${sequential.id}/400.jpg`])

  // a duplicated job: both runs see the rows pending and both write
  const concurrent = await storeImage(env, premium, await jpegImage(1000, 750))
  const results = await Promise.all([generateThumbnails(deps(), concurrent.id), generateThumbnails(deps(), concurrent.id)])
  // whether the second run still sees a row pending depends on timing; together they made both
  t.same([...new Set(results.flatMap((result) => result.rendered))].sort((a, b) => a - b), [200, 400])
  t.same(await thumbnailKeys(env, concurrent.id), [`thumbnails/${concurrent.id}/200.jpg`, `thumbnails/${concurrent.id}/400.jpg`])
  t.same(
    (await thumbnailRows(env, concurrent.id)).map((row) => [row.height, row.status, row.width]),
    [
      [200, 'ready', 267],
      [400, 'ready', 533],
    ],
  )
})
