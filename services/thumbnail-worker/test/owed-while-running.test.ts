import { randomUUID } from 'node:crypto'
import t from 'tap'
import { createTestEnvironment, createTestUser, jpegImage } from '@imageapi/testkit'
import type { ObjectStorage } from '@imageapi/storage'
import { generateThumbnails } from '../src/generate-thumbnails.js'
import { memoryLogger, storeImage, thumbnailKeys, thumbnailRows, sourceFormatOnly } from './support.js'

// Heights that become owed while a job runs (an admin re-tiers the owner) are made by the same
// job, not left pending until the reconciler's deadline.
const env = await createTestEnvironment(t)
// the source-format path; WebP/AVIF renditions and placeholders: generate-renditions.test.ts
await sourceFormatOnly(env)
const limits = { maxInputPixels: 50_000_000, maxOutputPixels: 50_000_000 }
const premiumTier = (await env.repos.tiers.findByName('Premium'))!

t.test('a user moved to a richer tier while the job renders: the new height is made in the same run', async (t) => {
  const user = (await createTestUser(env.repos, 'Basic')).user
  const image = await storeImage(env, user, await jpegImage(800, 600))
  t.same((await env.repos.thumbnails.findOwedWork(image.id))?.owedHeights, [200])

  let moved = false
  // the real storage; the admin's change lands once the job has read the original
  const storage: ObjectStorage = {
    ...env.storage,
    async getObjectBuffer(key) {
      const data = await env.storage.getObjectBuffer(key)
      if (!moved) {
        moved = true
        const change = await env.repos.users.update(user.id, { tierId: premiumTier.id })
        t.same(change?.backfill?.heights, [400], 'the move made 400 px owed')
      }
      return data
    },
  }
  const { log, lines } = memoryLogger()
  const result = await generateThumbnails({ repos: env.repos, storage, log, limits }, image.id)

  t.same(result, { format: 'jpeg', rendered: [200, 400], failed: [], discarded: [], renditions: { rendered: [], failed: [], discarded: [] } })
  t.same(
    (await thumbnailRows(env, image.id)).map((row) => [row.height, row.status, row.width]),
    [
      [200, 'ready', 267],
      [400, 'ready', 533],
    ],
  )
  t.same(await thumbnailKeys(env, image.id), [`thumbnails/${image.id}/200.jpg`, `thumbnails/${image.id}/400.jpg`])
  t.match(
    lines.filter((line) => line.msg === 'more thumbnails became owed while the job ran; making them too'),
    [{ heights: [400], round: 2 }],
  )
})

t.test('a tier that keeps changing: the job stops after three rounds and leaves the rest pending', async (t) => {
  const tier = await env.repos.tiers.create({ name: `Growing ${randomUUID().slice(0, 8)}`, thumbnailHeights: [100], originalLink: false, expiringLinks: false })
  const user = (await createTestUser(env.repos, tier.name)).user
  const image = await storeImage(env, user, await jpegImage(800, 600))

  // Each time the job stores the tier's largest height, an admin adds a larger one.
  let heights = [100]
  const storage: ObjectStorage = {
    ...env.storage,
    async putObject(key, ...rest) {
      await env.storage.putObject(key, ...rest)
      if (key.endsWith(`/${heights.at(-1)}.jpg`)) {
        heights = [...heights, heights.at(-1)! + 10]
        await env.repos.tiers.update(tier.id, { thumbnailHeights: heights })
      }
    },
  }
  const result = await generateThumbnails({ repos: env.repos, storage, log: memoryLogger().log, limits }, image.id)

  t.same(result.rendered, [100, 110, 120], 'one height per round, three rounds')
  t.same(
    (await thumbnailRows(env, image.id)).map((row) => [row.height, row.status]),
    [
      [100, 'ready'],
      [110, 'ready'],
      [120, 'ready'],
      [130, 'pending'],
    ],
  )
  t.ok((await env.repos.thumbnails.listImagesPendingSince(new Date(Date.now() + 1_000), 1_000)).includes(image.id), 'left for the reconciler')
})
