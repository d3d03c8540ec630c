import t from 'tap'
import { randomUUID } from 'node:crypto'
import sharp from 'sharp'
import { createTestEnvironment, createTestUser, jpegImage } from '@imageapi/testkit'
import { generateThumbnails } from '../src/generate-thumbnails.js'
import { memoryLogger, thumbnailRows } from './support.js'

// Rows asked for explicitly (a compat `custom` box) are owed like the tier's heights, whatever the
// tier grants; the rest of the rows keep following the tier.
const env = await createTestEnvironment(t)
const basic = (await createTestUser(env.repos, 'Basic')).user
const limits = { maxInputPixels: 50_000_000, maxOutputPixels: 50_000_000 }

/** What a compat custom upload by a Basic user leaves: the tier's 200 px row and the requested one. */
async function customUpload(requested: number) {
  const id = randomUUID()
  const original = await jpegImage(320, 240)
  const originalKey = `originals/${id}.jpg`
  await env.storage.putObject(originalKey, original, original.length, 'image/jpeg')
  await env.repos.compatUploads.create({
    image: { id, owner_id: basic.id, title: 'box', format: 'jpeg', width: 320, height: 240, bytes: original.length, original_key: originalKey },
    requested: [requested],
    variant: requested,
  })
  return id
}

t.test('a requested height is owed and rendered although the tier does not grant it', async (t) => {
  const id = await customUpload(75)
  t.same((await env.repos.thumbnails.findOwedWork(id))?.owedHeights, [75, 200])
  const result = await generateThumbnails({ repos: env.repos, storage: env.storage, log: memoryLogger().log, limits }, id)
  t.same(result.rendered, [75, 200])
  const rows = await thumbnailRows(env, id)
  t.same(rows.map((row) => [row.height, row.status, row.width, row.requested]), [[75, 'ready', 100, true], [200, 'ready', 267, false]])
  t.match(await sharp(await env.storage.getObjectBuffer(rows[0]!.object_key!)).metadata(), { width: 100, height: 75 })
})

t.test('a requested height equal to a tier height is one row, flagged', async (t) => {
  const id = await customUpload(200)
  t.same((await thumbnailRows(env, id)).map((row) => [row.height, row.requested]), [[200, true]])
})

t.test('the reconciler finds requested rows left pending; unrequested rows outside the tier stay ignored', async (t) => {
  const requested = await customUpload(90)
  await env.repos.thumbnails.markReady(requested, 200, { width: 267, objectKey: 'k', bytes: 1 })
  const outsideTier = randomUUID()
  await env.repos.images.createWithThumbnails(
    { id: outsideTier, owner_id: basic.id, title: 't', format: 'jpeg', width: 320, height: 240, bytes: 1, original_key: `originals/${outsideTier}.jpg` },
    [150],
  )
  const pending = await env.repos.thumbnails.listImagesPendingSince(new Date(Date.now() + 60_000), 100)
  t.ok(pending.includes(requested), 'only the requested 90 px row is pending, and it is owed')
  t.notOk(pending.includes(outsideTier))
  t.same((await env.repos.thumbnails.findOwedWork(outsideTier))?.owedHeights, [])
})
