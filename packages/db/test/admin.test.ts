import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createRepositories, type ThumbnailStatus } from '../src/index.js'
import { createScratchDatabase } from '../src/testing.js'

const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)

async function makeTier(heights: number[]) {
  return repos.tiers.create({ name: `tier-${randomUUID().slice(0, 8)}`, thumbnailHeights: heights, originalLink: false, expiringLinks: false })
}

async function makeUser(tierId: number, email = `${randomUUID()}@example.com`) {
  return repos.users.create({ email, passwordHash: 'x', tierId })
}

async function makeImage(ownerId: string, heights: number[], requested: number[] = []) {
  const id = randomUUID()
  const image = { id, owner_id: ownerId, title: 't', format: 'jpeg' as const, width: 40, height: 30, bytes: 100, original_key: `originals/${id}` }
  const created = await repos.images.createWithThumbnails(image, heights)
  if (requested.length) await scratch.db.insertInto('thumbnails').values(requested.map((height) => ({ image_id: id, height, requested: true }))).execute()
  return created
}

async function rows(imageId: string): Promise<Array<[number, ThumbnailStatus, boolean]>> {
  const found = await scratch.db.selectFrom('thumbnails').select(['height', 'status', 'backfill_id']).where('image_id', '=', imageId).orderBy('height').execute()
  return found.map((row) => [row.height, row.status, row.backfill_id !== null])
}

t.test('tiers: usage counts, names unique ignoring case, only unused tiers can be deleted', async (t) => {
  const tier = await makeTier([300])
  await makeUser(tier.id)
  await makeUser(tier.id)
  t.equal((await repos.tiers.findWithUsers(tier.id))?.users, 2)
  t.equal((await repos.tiers.listWithUsers()).find((x) => x.id === tier.id)?.users, 2)
  t.equal(await repos.tiers.nameTaken('BASIC'), true)
  t.equal(await repos.tiers.nameTaken(tier.name.toUpperCase(), tier.id), false, 'a tier may keep its own name')
  t.same(await repos.tiers.deleteUnused(tier.id), { deleted: false, users: 2 })
  const unused = await makeTier([300])
  t.same(await repos.tiers.deleteUnused(unused.id), { deleted: true, users: 0 })
  t.equal(await repos.tiers.findById(unused.id), undefined)
  t.equal(await repos.tiers.deleteUnused(unused.id), undefined)
})

t.test('changing a tier’s heights re-tiers its users’ images in one backfill', async (t) => {
  const tier = await makeTier([200, 400])
  const owner = await makeUser(tier.id)
  const a = await makeImage(owner.id, [200, 400])
  const b = await makeImage(owner.id, [200, 400], [999])
  await repos.thumbnails.markReady(a.id, 200, { width: 1, objectKey: 'a200', bytes: 1 })
  await repos.thumbnails.markReady(a.id, 400, { width: 1, objectKey: 'a400', bytes: 1 })
  await repos.thumbnails.markFailed(b.id, [400], 'broken')

  const renamed = await repos.tiers.update(tier.id, { name: `${tier.name}-renamed`, thumbnailHeights: [400, 200] })
  t.equal(renamed?.tier.name, `${tier.name}-renamed`)
  t.equal(renamed?.backfill, undefined, 'same heights in another order: nothing owed')

  const changed = await repos.tiers.update(tier.id, { thumbnailHeights: [640, 200, 640] })
  t.same(changed?.tier.thumbnail_heights, [200, 640], 'stored distinct and ascending')
  t.match(changed?.backfill, { reason: 'tier_updated', tier_id: tier.id, user_id: null, heights: [640], images: 2 })
  t.same(await rows(a.id), [[200, 'ready', false], [400, 'ready', false], [640, 'pending', true]], 'a ready dropped height is kept (hidden), the new one owed')
  t.same(await rows(b.id), [[200, 'pending', false], [640, 'pending', true], [999, 'pending', false]], 'failed dropped height deleted; an asked-for row stays')

  const backfillId = changed!.backfill!.id
  t.match(await repos.backfills.find(backfillId), { total: 2, done: 0, failed: 0, pending: 2, tier_name: `${tier.name}-renamed` })
  const pages = []
  for await (const page of repos.backfills.pendingImagePages(backfillId, 1)) pages.push(...page)
  t.same(pages, [a.id, b.id].sort(), 'every image with pending work, page by page')
  await repos.thumbnails.markReady(a.id, 640, { width: 1, objectKey: 'a640', bytes: 1 })
  await repos.thumbnails.markFailed(b.id, [640], 'broken')
  t.match(await repos.backfills.find(backfillId), { total: 2, done: 1, failed: 1, pending: 0 })
  t.equal((await repos.backfills.listRecent(1))[0]?.id, backfillId)

  const regranted = await repos.tiers.update(tier.id, { thumbnailHeights: [200, 400, 640] })
  t.match(regranted?.backfill, { heights: [400], images: 1 }, 'the kept 400 px of a is granted again at once; only b owes it')
  t.equal(await repos.tiers.update(-1, { name: 'x' }), undefined)
  t.equal(await repos.backfills.find(randomUUID()), undefined)
})

t.test('moving a user owes their images the new tier’s heights; asking for a tier’s backfill repairs gaps', async (t) => {
  const from = await makeTier([200])
  const to = await makeTier([120, 200])
  const owner = await makeUser(from.id)
  const image = await makeImage(owner.id, [200])
  const moved = await repos.users.update(owner.id, { tierId: to.id, isActive: false })
  t.equal(moved?.user.is_active, false)
  t.match(moved?.backfill, { reason: 'user_moved', tier_id: to.id, user_id: owner.id, heights: [120], images: 1 })
  t.same(await rows(image.id), [[120, 'pending', true], [200, 'pending', false]])
  t.equal((await repos.users.update(owner.id, { tierId: to.id }))?.backfill, undefined, 'staying on a tier owes nothing new')

  const gap = await makeImage(owner.id, [])
  const repaired = await repos.backfills.requestForTier(to.id)
  t.match(repaired, { reason: 'requested', images: 1, heights: [120, 200] })
  t.same(await rows(gap.id), [[120, 'pending', true], [200, 'pending', true]])
  t.equal(await repos.backfills.requestForTier(to.id), undefined, 'nothing left to repair')
  t.equal(await repos.users.update(randomUUID(), { isAdmin: true }), undefined)
})

t.test('users: keyset pages in email order, filtered by tier and by email text', async (t) => {
  const tier = await makeTier([200])
  const tag = randomUUID().slice(0, 6)
  const emails = ['a', 'b', 'c', 'd_x'].map((name) => `${name}-${tag}@example.com`)
  for (const email of emails) await makeUser(tier.id, email)
  await makeImage((await repos.users.findByEmail(emails[0]!))!.id, [200])

  const first = await repos.users.list({ limit: 3, tierId: tier.id })
  t.same(first.users.map((u) => u.email), emails.slice(0, 3))
  t.equal(first.users[0]?.images, 1)
  t.equal(first.users[0]?.tier_name, tier.name)
  t.notOk('password_hash' in first.users[0]!, 'no password hash')
  const second = await repos.users.list({ limit: 3, tierId: tier.id, afterEmail: first.nextAfterEmail! })
  t.same(second.users.map((u) => u.email), emails.slice(3))
  t.equal(second.nextAfterEmail, null)
  t.same((await repos.users.list({ limit: 10, emailContains: `D_X-${tag}` })).users.map((u) => u.email), [emails[3]])
  t.same((await repos.users.list({ limit: 10, emailContains: `${tag}@example_com` })).users, [], '_ is not a wildcard')
  t.equal((await repos.users.findSummary(first.users[1]!.id))?.email, emails[1])

  const admin = await repos.users.create({ email: `admin-${tag}@example.com`, passwordHash: 'x', tierId: tier.id, isAdmin: true })
  const admins = await repos.users.countActiveAdmins()
  t.equal(await repos.users.countActiveAdmins(admin.id), admins - 1)
})

t.test('retrying failed thumbnails puts the ones still owed back to pending', async (t) => {
  const tier = await makeTier([200])
  const owner = await makeUser(tier.id)
  const image = await makeImage(owner.id, [200, 400])
  await repos.thumbnails.markFailed(image.id, [200, 400], 'broken')
  t.equal(await repos.thumbnails.retryFailed([image.id]), 1)
  t.same(await rows(image.id), [[200, 'pending', false], [400, 'failed', false]], 'a height the tier does not grant stays failed')
  t.equal(await repos.thumbnails.retryFailed([]), 0)
})
