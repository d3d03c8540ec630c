import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Kysely, Database, ImageFormat, User } from '@imageapi/db'
import { createLinkSigner, generateSigningKey, parseSigningKeys, type LinkClaims, type LinkSigner } from '@imageapi/link-tokens'
import { contentTypeOf, originalKey as originalKeyOf, thumbnailKey, type RenditionFormat } from '@imageapi/media'
import sharp from 'sharp'
import type { ObjectStorage } from '@imageapi/storage'
import { createTestEnvironment, createTestUser, jpegImage, pngImage, type Teardown, type TestEnvironment } from '@imageapi/testkit'
import { buildApp } from '../../src/app.js'
import { loadLinksConfig, type LinksConfig } from '../../src/config.js'

/** A key ring entry `kid:secret` with a fresh random secret. */
export function ringEntry(kid: string): string {
  return `${kid}:${generateSigningKey()}`
}

/** A signer over a key ring spec, exactly as the service parses it. */
export function signerFor(ring: string): LinkSigner {
  return createLinkSigner(parseSigningKeys(ring))
}

/** A settable clock in milliseconds; the app reads it through `now()`. */
export interface TestClock {
  ms: number
  now(): number
  /** The clock in whole unix seconds, as tokens carry it. */
  seconds(): number
  /** Moves time forward; never backward, so time-to-live caches behave as in production. */
  advance(ms: number): void
}

export function createClock(startMs = Date.UTC(2030, 0, 1, 12, 0, 0)): TestClock {
  const clock: TestClock = {
    ms: startMs,
    now: () => clock.ms,
    seconds: () => Math.floor(clock.ms / 1000),
    advance: (ms) => {
      if (ms < 0) throw new Error('the test clock only moves forward')
      clock.ms += ms
    },
  }
  return clock
}

export interface LinksHarness {
  env: TestEnvironment
  ring: string
  config: LinksConfig
  signer: LinkSigner
  clock: TestClock
  app: FastifyInstance
  /** Another app on the same environment and clock, with other options (key ring, db, storage, config variables). */
  buildAnother(options?: AppOptions): Promise<FastifyInstance>
  /**
   * Moves the clock past LINK_CHECK_CACHE_MS, the documented bound for how long a rights check
   * (image, owner, tier, revocation) is reused: after this, a change to the rows must show.
   */
  passRightsCache(): void
}

export interface AppOptions {
  ring?: string
  db?: Kysely<Database>
  storage?: ObjectStorage
  /** Extra environment variables for loadLinksConfig. */
  env?: Record<string, string>
}

/** The links service in process, on this test file's own Postgres database and S3 bucket, with an injectable clock. */
export async function buildLinksHarness(t: Teardown, options: { ring?: string } = {}): Promise<LinksHarness> {
  const env = await createTestEnvironment(t)
  const ring = options.ring ?? ringEntry('k1')
  const clock = createClock()

  function configFor(more: AppOptions): LinksConfig {
    return loadLinksConfig({
      ...env.env,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      NODE_ENV: 'test',
      LINK_SIGNING_KEYS: more.ring ?? ring,
      ...more.env,
    })
  }

  async function buildAnother(more: AppOptions = {}): Promise<FastifyInstance> {
    const config = configFor(more)
    const app = await buildApp({ config, db: more.db ?? env.database.db, storage: more.storage ?? env.storage, clock: clock.now })
    t.teardown(() => app.close())
    await app.ready()
    return app
  }

  const config = configFor({})
  const app = await buildAnother()
  const passRightsCache = () => clock.advance(config.LINK_CHECK_CACHE_MS + 1)
  return { env, ring, config, signer: signerFor(ring), clock, app, buildAnother, passRightsCache }
}

export interface SeededImage {
  id: string
  owner: User
  format: ImageFormat
  title: string
  original: Buffer
  originalKey: string
  /** Bytes of each thumbnail marked ready, by height. */
  thumbnails: Map<number, Buffer>
  /** Bytes of each rendition marked ready, by `height:format`. */
  renditions: Map<string, Buffer>
}


/**
 * Rows and objects as the gateway and the worker leave them: the original in S3, the image row with
 * one pending thumbnail row per `owed` height, and, for each `ready` height, a real rendered thumbnail
 * in S3 with its row marked ready.
 */
export async function seedImage(
  env: TestEnvironment,
  owner: User,
  options: { format?: ImageFormat; title?: string; owed?: number[]; ready?: number[]; width?: number; height?: number; renditions?: RenditionFormat[] } = {},
): Promise<SeededImage> {
  const format = options.format ?? 'jpeg'
  const width = options.width ?? 480
  const height = options.height ?? 360
  const render = (w: number, h: number) => (format === 'jpeg' ? jpegImage(w, h) : pngImage(w, h))
  const id = randomUUID()
  const title = options.title ?? 'A photo'
  const original = await render(width, height)
  const originalKey = originalKeyOf(id, format)
  await env.storage.putObject(originalKey, original, original.length, contentTypeOf(format))
  const owed = options.owed ?? [200]
  await env.repos.images.createWithThumbnails(
    { id, owner_id: owner.id, title, format, width, height, bytes: original.length, original_key: originalKey },
    owed,
  )
  const thumbnails = new Map<number, Buffer>()
  const renditions = new Map<string, Buffer>()
  for (const h of options.ready ?? owed) {
    const w = Math.max(1, Math.round((width * h) / height))
    const data = await render(w, h)
    const objectKey = thumbnailKey(id, h, format)
    await env.storage.putObject(objectKey, data, data.length, contentTypeOf(format))
    const marked = await env.repos.thumbnails.markReady(id, h, { width: w, objectKey, bytes: data.length })
    if (!marked) throw new Error(`no pending row for height ${h}`)
    thumbnails.set(h, data)
    for (const renditionFormat of options.renditions ?? []) {
      const encoded = await sharp(data)[renditionFormat]({ quality: 50, effort: 0 }).toBuffer()
      const key = thumbnailKey(id, h, renditionFormat)
      await env.storage.putObject(key, encoded, encoded.length, contentTypeOf(renditionFormat))
      await env.repos.thumbnails.markRenditionsReady(id, [{ height: h, format: renditionFormat, objectKey: key, bytes: encoded.length }])
      renditions.set(`${h}:${renditionFormat}`, encoded)
    }
  }
  return { id, owner, format, title, original, originalKey, thumbnails, renditions }
}

export async function userOnTier(env: TestEnvironment, tierName: string): Promise<User> {
  return (await createTestUser(env.repos, tierName)).user
}

/** Moves a user to another tier by rewriting the row, as an admin's tier change would. */
export async function moveToTier(env: TestEnvironment, userId: string, tierName: string): Promise<void> {
  const tier = await env.repos.tiers.findByName(tierName)
  if (!tier) throw new Error(`no tier ${tierName}`)
  await env.database.db.updateTable('users').set({ tier_id: tier.id, updated_at: new Date() }).where('id', '=', userId).execute()
}

export function viewPath(token: string): string {
  return `/v/${token}`
}

export type { LinkClaims }

/** A TCP port on 127.0.0.1 that nothing listens on: taken from the OS, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return address.port
}

export const NOT_FOUND_BODY = { detail: 'Not found.' }
export const EXPIRED_BODY = { error: ['Sorry, the link is expired'] }
export const REVOKED_BODY = { error: ['Sorry, the link was revoked'] }

/**
 * GET over a fresh connection that is closed afterwards: fetch's keep-alive pool would hold the
 * embedded S3 server's close (and the test process) open for seconds.
 */
export async function getOnce(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { get } = await import('node:http')
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers: { connection: 'close' } }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }))
      response.on('error', reject)
    }).on('error', reject)
  })
}
