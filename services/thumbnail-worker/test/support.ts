import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import type { ImageFormat, Thumbnail, User } from '@imageapi/db'
import { createLogger, type Logger } from '@imageapi/logger'
import { contentTypeOf, originalKey as originalKeyOf } from '@imageapi/media'
import type { TestEnvironment } from '@imageapi/testkit'

// Helpers shared by this package's tests. Every test file still builds its own environment.


/** A pino logger whose lines land, parsed, in `lines`. */
export function memoryLogger(name = 'thumbnail-worker-test'): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const log = createLogger({
    name,
    level: 'debug',
    destination: {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>)
      },
    },
  })
  return { log, lines }
}

export interface StoredImage {
  id: string
  originalKey: string
  format: ImageFormat
}

/**
 * What the gateway does on upload, minus HTTP: stores the original, then writes the image row with
 * one pending thumbnail row per height (the owner's tier heights unless `heights` is given).
 * `data` may be anything (e.g. random bytes); `format` is what the row claims.
 */
export async function storeImage(
  env: TestEnvironment,
  owner: User,
  data: Buffer,
  options: { format?: ImageFormat; heights?: number[]; storeOriginal?: boolean } = {},
): Promise<StoredImage> {
  const id = randomUUID()
  let format = options.format
  let width = 1
  let height = 1
  if (format === undefined) {
    const metadata = await sharp(data).metadata()
    format = metadata.format === 'png' ? 'png' : 'jpeg'
    width = metadata.autoOrient.width
    height = metadata.autoOrient.height
  }
  const originalKey = originalKeyOf(id, format)
  if (options.storeOriginal ?? true) await env.storage.putObject(originalKey, data, data.length, contentTypeOf(format))
  let heights = options.heights
  if (heights === undefined) {
    const tier = await env.repos.tiers.findById(owner.tier_id)
    heights = tier!.thumbnail_heights
  }
  await env.repos.images.createWithThumbnails(
    { id, owner_id: owner.id, title: `test ${id}`, format, width, height, bytes: data.length, original_key: originalKey },
    heights,
  )
  return { id, originalKey, format }
}

/** The image's thumbnail rows, by ascending height; [] once the image is gone. */
export async function thumbnailRows(env: TestEnvironment, imageId: string): Promise<Thumbnail[]> {
  return (await env.repos.images.findForServing(imageId))?.thumbnails ?? []
}

/** Object keys under thumbnails/<imageId>/. */
export async function thumbnailKeys(env: TestEnvironment, imageId: string): Promise<string[]> {
  return env.storage.listKeys(`thumbnails/${imageId}/`)
}

/** A TCP port nothing listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Random bytes from a fixed seed: not an image in any format. */
export function notAnImage(length = 20_000): Buffer {
  const bytes = Buffer.alloc(length)
  let seed = 12345
  for (let i = 0; i < length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    bytes[i] = seed >> 16
  }
  return bytes
}

/**
 * Turns every rendition format off in this test file's database, for tests of the source-format
 * path alone (their expectations list one file per height); renditions have tests of their own.
 */
export async function sourceFormatOnly(env: TestEnvironment): Promise<void> {
  for (const { format } of await env.repos.renditionFormats.list()) await env.repos.renditionFormats.update(format, { enabled: false })
}
