import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createRepositories, migrateToLatest } from '../src/index.js'
import { createScratchDatabase } from '../src/testing.js'

const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)

async function makeUser(tierName: string) {
  const tier = await repos.tiers.findByName(tierName)
  if (!tier) throw new Error(`no tier ${tierName}`)
  return repos.users.create({ email: `${randomUUID()}@Example.com`, passwordHash: 'x', tierId: tier.id })
}

function newImage(ownerId: string) {
  const id = randomUUID()
  return { id, owner_id: ownerId, title: 't', format: 'jpeg' as const, width: 40, height: 30, bytes: 100, original_key: `originals/${id}` }
}

t.test('migrations are idempotent and seed the built-in tiers as data', async (t) => {
  t.same((await migrateToLatest(scratch.db)).applied, [])
  const tiers = await repos.tiers.list()
  t.same(
    tiers.map((x) => [x.name, x.thumbnail_heights, x.original_link, x.expiring_links]),
    [
      ['Basic', [200], false, false],
      ['Premium', [200, 400], true, false],
      ['Enterprise', [200, 400], true, true],
    ],
  )
})

t.test('users are stored with lower-cased emails and read with their tier', async (t) => {
  const user = await makeUser('Premium')
  t.equal(user.email, user.email.toLowerCase())
  t.equal((await repos.users.findByEmail(user.email.toUpperCase()))?.id, user.id)
  const withTier = await repos.users.findWithTier(user.id)
  t.equal(withTier?.tier.name, 'Premium')
  t.same(withTier?.tier.thumbnail_heights, [200, 400])
  t.equal(await repos.users.findWithTier(randomUUID()), undefined)
})

t.test('images: create with pending thumbnails, page newest first, owner-scoped', async (t) => {
  const owner = await makeUser('Basic')
  const other = await makeUser('Basic')
  const created = []
  for (let i = 0; i < 5; i++) created.push(await repos.images.createWithThumbnails(newImage(owner.id), [400, 200]))
  t.same(created[0]!.thumbnails.map((x) => [x.height, x.status]), [[200, 'pending'], [400, 'pending']])

  const first = await repos.images.listByOwner(owner.id, { limit: 2 })
  t.same(first.images.map((i) => i.id), [created[4]!.id, created[3]!.id])
  t.ok(first.nextAfterSeq)
  const second = await repos.images.listByOwner(owner.id, { limit: 2, afterSeq: first.nextAfterSeq! })
  t.same(second.images.map((i) => i.id), [created[2]!.id, created[1]!.id])
  const third = await repos.images.listByOwner(owner.id, { limit: 2, afterSeq: second.nextAfterSeq! })
  t.same(third.images.map((i) => i.id), [created[0]!.id])
  t.equal(third.nextAfterSeq, null)

  t.equal((await repos.images.listByOwner(other.id, { limit: 10 })).images.length, 0)
  t.equal(await repos.images.findByOwner(created[0]!.id, other.id), undefined)
  t.equal((await repos.images.findByOwner(created[0]!.id, owner.id))?.thumbnails.length, 2)
})

t.test('thumbnail work follows the owner tier and rows', async (t) => {
  const owner = await makeUser('Basic')
  const image = await repos.images.createWithThumbnails(newImage(owner.id), [200])
  t.same((await repos.thumbnails.findOwedWork(image.id))?.owedHeights, [200])
  t.equal(await repos.thumbnails.markReady(image.id, 200, { width: 267, objectKey: 'k', bytes: 10 }), true)
  t.same((await repos.thumbnails.findOwedWork(image.id))?.owedHeights, [])
  t.equal(await repos.thumbnails.markReady(image.id, 999, { width: 1, objectKey: 'k', bytes: 1 }), false)
  t.equal(await repos.thumbnails.findOwedWork(randomUUID()), undefined)

  const failing = await repos.images.createWithThumbnails(newImage(owner.id), [200])
  await repos.thumbnails.markFailed(failing.id, [200], 'corrupt')
  const row = (await repos.images.findByOwner(failing.id, owner.id))?.thumbnails[0]
  t.equal(row?.status, 'failed')
  t.equal(row?.error, 'corrupt')
})

t.test('markReadyMany records several heights in one statement and returns those still owed', async (t) => {
  const owner = await makeUser('Premium')
  const image = await repos.images.createWithThumbnails(newImage(owner.id), [200, 400])
  await repos.thumbnails.markFailed(image.id, [400], 'earlier attempt')
  const recorded = await repos.thumbnails.markReadyMany(image.id, [
    { height: 400, width: 533, objectKey: `thumbnails/${image.id}/400.jpg`, bytes: 41_000 },
    { height: 200, width: 267, objectKey: `thumbnails/${image.id}/200.jpg`, bytes: 13_000 },
    { height: 999, width: 1332, objectKey: `thumbnails/${image.id}/999.jpg`, bytes: 1 },
  ])
  t.same(recorded, [200, 400], 'ascending; the height without a row is left out')
  const rows = (await repos.images.findByOwner(image.id, owner.id))!.thumbnails
  t.same(
    rows.map((row) => [row.height, row.status, row.width, row.object_key, row.bytes, row.error]),
    [
      [200, 'ready', 267, `thumbnails/${image.id}/200.jpg`, 13_000, null],
      [400, 'ready', 533, `thumbnails/${image.id}/400.jpg`, 41_000, null],
    ],
  )
  t.equal(rows[0]!.updated_at.getTime(), rows[1]!.updated_at.getTime(), 'one statement: one timestamp')
  t.same((await repos.thumbnails.findOwedWork(image.id))?.owedHeights, [])
  t.same(await repos.thumbnails.markReadyMany(image.id, []), [])
  t.same(await repos.thumbnails.markReadyMany(randomUUID(), [{ height: 200, width: 1, objectKey: 'k', bytes: 1 }]), [], 'an image that is gone')
})

t.test('owed work: pending heights the tier grants, ascending; an image without rows has none', async (t) => {
  const owner = await makeUser('Basic')
  const image = await repos.images.createWithThumbnails(newImage(owner.id), [400, 200])
  const work = await repos.thumbnails.findOwedWork(image.id)
  t.match(work, { imageId: image.id, format: 'jpeg', originalKey: image.original_key, owedHeights: [200] }, '400 is pending but Basic does not grant it')
  t.same(
    work?.owedRenditions.map((rendition) => [rendition.height, rendition.format, rendition.quality, rendition.effort]),
    [[200, 'webp', 80, 4]],
    'its rendition in the enabled format (WebP by default) is owed with it, with its settings; 400 is not granted, so neither is its rendition',
  )
  t.equal(work?.needsPlaceholder, true, 'no placeholder yet')
  const bare = await repos.images.createWithThumbnails(newImage(owner.id), [])
  t.same((await repos.thumbnails.findOwedWork(bare.id))?.owedHeights, [], 'an image with no rows is found, with nothing owed')
})

t.test('pending work older than a cutoff is found for the reconciler', async (t) => {
  const owner = await makeUser('Basic')
  const image = await repos.images.createWithThumbnails(newImage(owner.id), [200])
  t.notOk((await repos.thumbnails.listImagesPendingSince(new Date(Date.now() - 60_000), 100)).includes(image.id))
  t.ok((await repos.thumbnails.listImagesPendingSince(new Date(Date.now() + 1_000), 100)).includes(image.id))
  // a pending height the tier does not grant is not work: it must not be re-queued forever
  const notOwed = await repos.images.createWithThumbnails(newImage(owner.id), [400])
  t.notOk((await repos.thumbnails.listImagesPendingSince(new Date(Date.now() + 1_000), 100)).includes(notOwed.id))
})

t.test('deleting an image records its objects for removal and is owner-scoped', async (t) => {
  const owner = await makeUser('Premium')
  const other = await makeUser('Premium')
  const image = await repos.images.createWithThumbnails(newImage(owner.id), [200, 400])
  await repos.thumbnails.markReady(image.id, 200, { width: 1, objectKey: `thumbs/${image.id}/200`, bytes: 1 })
  t.equal(await repos.images.deleteByOwner(image.id, other.id), undefined)
  const keys = await repos.images.deleteByOwner(image.id, owner.id)
  t.same(keys?.sort(), [image.original_key, `thumbs/${image.id}/200`].sort())
  t.equal(await repos.images.findForServing(image.id), undefined)
  const stale = await repos.objectDeletions.listOlderThan(new Date(Date.now() + 1000), 100)
  t.ok(keys!.every((k) => stale.includes(k)))
  await repos.objectDeletions.confirm(keys!)
  t.notOk((await repos.objectDeletions.listOlderThan(new Date(Date.now() + 1000), 100)).includes(image.original_key))
})

t.test('serving lookup reports the owner tier rights', async (t) => {
  const owner = await makeUser('Basic')
  const image = await repos.images.createWithThumbnails(newImage(owner.id), [200])
  const found = await repos.images.findForServing(image.id)
  t.same(found?.tier, { thumbnail_heights: [200], original_link: false, expiring_links: false })
  t.equal(found?.ownerActive, true)
  t.equal(found?.thumbnails.length, 1)
})
