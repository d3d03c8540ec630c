import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createRepositories } from '../src/index.js'
import { createScratchDatabase } from '../src/testing.js'

// Renditions are owed as rows: made owed by the database as thumbnails are, failed and retried with
// them, found by the reconciler, and their objects recorded for removal as their rows go.
const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)
const db = scratch.db
const tier = (await repos.tiers.findByName('Premium'))!
const owner = await repos.users.create({ email: `${randomUUID()}@example.com`, passwordHash: 'x', tierId: tier.id })
await repos.renditionFormats.update('avif', { enabled: true }) // off by default; both formats on here

async function newImage(heights: number[]) {
  const id = randomUUID()
  return repos.images.createWithThumbnails({ id, owner_id: owner.id, title: 't', format: 'png', width: 800, height: 600, bytes: 100, original_key: `originals/${id}.png` }, heights)
}

const rows = (imageId: string) =>
  db.selectFrom('renditions').select(['height', 'format', 'status', 'error', 'backfill_id']).where('image_id', '=', imageId).orderBy('height').orderBy('format').execute()

t.test('a new thumbnail owes one rendition per enabled format, untagged; a format turned off is not owed by new thumbnails', async (t) => {
  const image = await newImage([200, 400])
  t.same(
    (await rows(image.id)).map((r) => [r.height, r.format, r.status, r.backfill_id]),
    [
      [200, 'avif', 'pending', null],
      [200, 'webp', 'pending', null],
      [400, 'avif', 'pending', null],
      [400, 'webp', 'pending', null],
    ],
  )
  await repos.renditionFormats.update('avif', { enabled: false })
  t.teardown(() => repos.renditionFormats.update('avif', { enabled: true }).then(() => undefined))
  const later = await newImage([200])
  t.same((await rows(later.id)).map((r) => r.format), ['webp'], 'AVIF off: WebP only')
})

t.test('a failed height fails its pending renditions; a retry makes both owed again', async (t) => {
  const image = await newImage([200])
  await repos.thumbnails.markFailed(image.id, [200], 'the file ends early')
  t.same((await rows(image.id)).map((r) => [r.status, r.error]), [['failed', 'the file ends early'], ['failed', 'the file ends early']])
  t.same((await repos.thumbnails.findOwedWork(image.id))?.owedRenditions, [], 'nothing owed while failed')
  t.equal(await repos.thumbnails.retryFailed([image.id]), 1, 'one thumbnail retried')
  t.same((await rows(image.id)).map((r) => r.status), ['pending', 'pending'], 'its renditions too')
  t.equal((await repos.thumbnails.findOwedWork(image.id))?.owedRenditions.length, 2)
})

t.test('the reconciler finds an image whose only pending work is a rendition', async (t) => {
  const image = await newImage([200])
  await repos.thumbnails.markReady(image.id, 200, { width: 267, objectKey: `thumbnails/${image.id}/200.png`, bytes: 1 })
  await repos.thumbnails.markRenditionsReady(image.id, [{ height: 200, format: 'webp', objectKey: `thumbnails/${image.id}/200.webp`, bytes: 1 }])
  const future = new Date(Date.now() + 60_000)
  t.ok((await repos.thumbnails.listImagesPendingSince(future, 1000)).includes(image.id), 'AVIF still pending: found')
  await repos.renditionFormats.update('avif', { enabled: false })
  t.notOk((await repos.thumbnails.listImagesPendingSince(future, 1000)).includes(image.id), 'AVIF turned off: not owed, not found')
  await repos.renditionFormats.update('avif', { enabled: true })
  await repos.thumbnails.markRenditionsReady(image.id, [{ height: 200, format: 'avif', objectKey: `thumbnails/${image.id}/200.avif`, bytes: 1 }])
  t.notOk((await repos.thumbnails.listImagesPendingSince(future, 1000)).includes(image.id), 'all made: not found')
})

t.test("a rendition's object is recorded for removal when its row goes, whatever removed it", async (t) => {
  const image = await newImage([200, 400])
  await repos.thumbnails.markRenditionsReady(image.id, [{ height: 400, format: 'webp', objectKey: `thumbnails/${image.id}/400.webp`, bytes: 1 }])
  // a pending height dropped from the tier goes with its renditions (as re-tiering deletes it)
  await db.deleteFrom('thumbnails').where('image_id', '=', image.id).where('height', '=', 400).execute()
  const recorded = await db.selectFrom('object_deletions').select('object_key').where('object_key', 'like', `thumbnails/${image.id}/%`).execute()
  t.same(recorded.map((r) => r.object_key), [`thumbnails/${image.id}/400.webp`], 'the one stored rendition, not the pending ones')
  t.same((await rows(image.id)).map((r) => r.height), [200, 200], "the other height's renditions stay")
})
