import t from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { createRepositories } from '../src/index.js'
import { insertImageOwedByTier } from '../src/repositories/images.js'
import { createScratchDatabase } from '../src/testing.js'

// An upload writes the rows its owner's tier owes as the insert commits, whatever tier the request
// was authenticated with; a tier edit or a move racing it either lands first (and is used) or waits
// for it (and re-tiers the new image with the others).
const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)

async function userOnNewTier(heights: number[]) {
  const tier = await repos.tiers.create({ name: `tier-${randomUUID()}`, thumbnailHeights: heights, originalLink: false, expiringLinks: false })
  const user = await repos.users.create({ email: `${randomUUID()}@example.com`, passwordHash: 'x', tierId: tier.id })
  return { tier, user }
}

function newImage(ownerId: string) {
  const id = randomUUID()
  return { id, owner_id: ownerId, title: '', format: 'jpeg' as const, width: 40, height: 30, bytes: 100, original_key: `originals/${id}.jpg` }
}

async function heightsOf(imageId: string): Promise<number[]> {
  const rows = await scratch.db.selectFrom('thumbnails').select('height').where('image_id', '=', imageId).orderBy('height').execute()
  return rows.map((row) => row.height)
}

/** A transaction on its own connection, left open until the test commits it: an admin's change caught mid-way. */
async function openTransaction(statements: Array<[string, unknown[]]>) {
  const client = new pg.Client({ connectionString: scratch.url })
  await client.connect()
  await client.query('begin')
  for (const [text, values] of statements) await client.query(text, values)
  return {
    async commit() {
      await client.query('commit')
      await client.end()
    },
  }
}

/** Whether a promise is still waiting after a while (for a lock, here). */
async function stillWaiting(promise: Promise<unknown>, ms = 300): Promise<boolean> {
  let settled = false
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  await sleep(ms)
  return !settled
}

t.test('the rows follow the tier as it is when the insert runs, not as the caller last read it', async (t) => {
  const { tier, user } = await userOnNewTier([200])
  await repos.tiers.update(tier.id, { thumbnailHeights: [120, 640] })
  const created = await repos.images.createWithOwedThumbnails(newImage(user.id))
  t.same(created.thumbnails.map((row) => [row.height, row.status]), [[120, 'pending'], [640, 'pending']])
  t.same(await heightsOf(created.id), [120, 640])
})

t.test('a tier edit in progress is waited for, and its heights are the ones owed', async (t) => {
  const { tier, user } = await userOnNewTier([200])
  const edit = await openTransaction([
    ['select id from tiers where id = $1 for update', [tier.id]],
    ['update tiers set thumbnail_heights = $2 where id = $1', [tier.id, [300, 500]]],
  ])
  const creating = repos.images.createWithOwedThumbnails(newImage(user.id))
  t.ok(await stillWaiting(creating), 'the insert waits for the edit')
  await edit.commit()
  const created = await creating
  t.same(await heightsOf(created.id), [300, 500])
})

t.test('a move to another tier in progress is waited for, and the new tier is the one that owes', async (t) => {
  const { user } = await userOnNewTier([200])
  const { tier: target } = await userOnNewTier([100, 900])
  const move = await openTransaction([
    ['select tier_id from users where id = $1 for update', [user.id]],
    ['update users set tier_id = $2 where id = $1', [user.id, target.id]],
  ])
  const creating = repos.images.createWithOwedThumbnails(newImage(user.id))
  t.ok(await stillWaiting(creating), 'the insert waits for the move')
  await move.commit()
  t.same(await heightsOf((await creating).id), [100, 900])
})

t.test('a tier edit that starts during the insert waits for it, then re-tiers the new image', async (t) => {
  const { tier, user } = await userOnNewTier([200])
  let editing: Promise<unknown> | undefined
  const created = await scratch.db.transaction().execute(async (trx) => {
    const image = await insertImageOwedByTier(trx, newImage(user.id))
    editing = repos.tiers.update(tier.id, { thumbnailHeights: [400] })
    t.ok(await stillWaiting(editing), 'the edit waits for the insert to commit')
    return image
  })
  t.same(created.thumbnails.map((row) => row.height), [200], 'owed what the tier granted when the insert ran')
  const edited = (await editing) as Awaited<ReturnType<typeof repos.tiers.update>>
  t.same(edited?.backfill?.heights, [400])
  t.same(await heightsOf(created.id), [400], 'and the edit brought it in line once it could see it')
})

t.test('requested heights are owed besides the tier, once each', async (t) => {
  const { user } = await userOnNewTier([200, 400])
  const created = await scratch.db.transaction().execute((trx) => insertImageOwedByTier(trx, newImage(user.id), [150, 400]))
  t.same(
    created.thumbnails.map((row) => [row.height, row.requested]),
    [[150, true], [200, false], [400, true]],
  )
})
