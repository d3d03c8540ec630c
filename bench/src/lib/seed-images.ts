import { randomUUID } from 'node:crypto'
import { contentTypeOf, originalKey } from '@imageapi/media'
import { createTestUser } from '@imageapi/testkit'
import type { BenchEnvironment } from './environment.js'
import type { BenchInput } from './inputs.js'

/**
 * `count` images of one Premium owner, each with its original stored under the key the gateway
 * would give it and a pending row per height: what a thumbnail benchmark drains.
 */
export async function seedImagesOwing(env: BenchEnvironment, input: BenchInput, count: number, heights: number[]): Promise<string[]> {
  const owner = await createTestUser(env.repos, 'Premium')
  const imageIds: string[] = []
  for (let i = 0; i < count; i++) {
    const id = randomUUID()
    const key = originalKey(id, input.format)
    await env.storage.putObject(key, input.data, input.data.length, contentTypeOf(input.format))
    await env.repos.images.createWithThumbnails(
      { id, owner_id: owner.user.id, title: `bench ${i}`, format: input.format, width: input.width, height: input.height, bytes: input.data.length, original_key: key },
      heights,
    )
    imageIds.push(id)
  }
  return imageIds
}

/** Puts the images' thumbnail and rendition rows back to pending, so the same originals can be drained again. */
export async function resetThumbnailRows(env: BenchEnvironment, ids: string[]): Promise<void> {
  await env.database.db
    .updateTable('thumbnails')
    .set({ status: 'pending', width: null, object_key: null, bytes: null, error: null, updated_at: new Date() })
    .where('image_id', 'in', ids)
    .execute()
  await env.database.db
    .updateTable('renditions')
    .set({ status: 'pending', object_key: null, bytes: null, error: null, updated_at: new Date() })
    .where('image_id', 'in', ids)
    .execute()
}
