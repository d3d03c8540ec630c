import t from 'tap'
import { randomUUID } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { createTestUser, jpegImage } from '@imageapi/testkit'
import { probeBuffer } from '@imageapi/image-probe'
import { thumbnailJobId } from '@imageapi/queue'
import { contentTypeOf, originalKey } from '@imageapi/media'
import { createImage } from '../src/services/create-image.js'
import type { StoredOriginal } from '../src/services/receive-upload.js'
import { buildTestGateway } from './helpers/build-test-app.js'

// The account an upload carries is read when the request is authenticated; an admin may change its
// tier before the upload's rows are written. The rows must follow the tier as of their commit.
const { app, env } = await buildTestGateway(t)
const jpeg = await jpegImage(160, 120)
const probed = probeBuffer(jpeg, { maxBytes: 1 << 20, maxPixels: 1 << 20 })

/** An original as the upload route leaves it in storage before its rows are written. */
async function storedUpload(): Promise<{ stored: StoredOriginal; title: string }> {
  const imageId = randomUUID()
  const key = originalKey(imageId, 'jpeg')
  await env.storage.putObject(key, jpeg, jpeg.length, contentTypeOf('jpeg'))
  return { stored: { imageId, key, image: probed, committed: false, discard: async () => {} }, title: 'raced' }
}
// createImage needs of a request only its id (for the job) and its logger
const request = { id: 'tier-race', log: app.log } as unknown as FastifyRequest

async function accountOnNewTier(heights: number[]) {
  const tier = await env.repos.tiers.create({ name: `Racing ${randomUUID()}`, thumbnailHeights: heights, originalLink: false, expiringLinks: false })
  const { user } = await createTestUser(env.repos, tier.name)
  // what authentication attached to the request
  const authenticated = (await env.repos.users.findWithTier(user.id))!
  return { tier, authenticated }
}

async function storedHeights(imageId: string): Promise<number[]> {
  const rows = await env.database.db.selectFrom('thumbnails').select('height').where('image_id', '=', imageId).orderBy('height').execute()
  return rows.map((row) => row.height)
}

t.test('the tier’s heights changed after authentication: the rows follow the new heights', async (t) => {
  const { tier, authenticated } = await accountOnNewTier([200])
  await env.repos.tiers.update(tier.id, { thumbnailHeights: [120, 640] })
  t.same(authenticated.tier.thumbnail_heights, [200], 'the account the upload carries is stale')

  const { image } = await createImage(app, request, authenticated, await storedUpload())
  t.same(image.thumbnails.map((row) => [row.height, row.status]), [[120, 'pending'], [640, 'pending']])
  t.same(await storedHeights(image.id), [120, 640])
  t.ok(await app.thumbnailQueue.getJob(thumbnailJobId(image.id)), 'and the job is queued')
})

t.test('the owner was moved to another tier after authentication: the new tier owes', async (t) => {
  const { authenticated } = await accountOnNewTier([200])
  const { tier: target } = await accountOnNewTier([100, 900])
  await env.repos.users.update(authenticated.id, { tierId: target.id })

  const { image } = await createImage(app, request, authenticated, await storedUpload())
  t.same(await storedHeights(image.id), [100, 900])
})

t.test('a tier that now grants nothing owes no rows and queues no job', async (t) => {
  const { tier, authenticated } = await accountOnNewTier([200])
  // a tier has at least one height; emptying one is only possible behind the admin rules' back
  await env.database.db.updateTable('tiers').set({ thumbnail_heights: [] }).where('id', '=', tier.id).execute()

  const { image } = await createImage(app, request, authenticated, await storedUpload())
  t.same(image.thumbnails, [])
  t.same(await storedHeights(image.id), [])
  t.notOk(await app.thumbnailQueue.getJob(thumbnailJobId(image.id)))
})
