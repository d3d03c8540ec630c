import { loadConfig, requireInProduction, serviceEnvSchema, Type, type Static } from '@imageapi/config'
import { databaseEnvSchema } from '@imageapi/db'
import { linkSigningEnvSchema } from '@imageapi/link-tokens'
import { storageEnvSchema } from '@imageapi/storage'

export const linksEnvSchema = Type.Object({
  ...serviceEnvSchema,
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8001 }),
  ...databaseEnvSchema,
  ...storageEnvSchema,
  ...linkSigningEnvSchema,
  /**
   * How long a link's rights check (image, tier, revocation) is reused. This is the longest a
   * revoked link, a deleted image or a downgraded tier can still open: keep it a few seconds.
   */
  LINK_CHECK_CACHE_MS: Type.Integer({ minimum: 0, maximum: 10_000, default: 2_000 }),
  /**
   * How long caches may keep a permanent thumbnail link's file. Long, since its content never
   * changes; but a deleted image or a downgraded tier cannot reach shared caches, so not a year.
   */
  LINK_THUMBNAIL_MAX_AGE_SECONDS: Type.Integer({ minimum: 0, default: 86_400 }),
  /** Memory for the bodies of hot small files (thumbnails); 0 turns the cache off. */
  LINK_BODY_CACHE_BYTES: Type.Integer({ minimum: 0, default: 64 * 1024 * 1024 }),
  /** Files larger than this always stream from storage. */
  LINK_BODY_CACHE_MAX_OBJECT_BYTES: Type.Integer({ minimum: 0, default: 512 * 1024 }),
  /** Answer 302 to a presigned storage URL instead of carrying the bytes (MinIO or a CDN serves them). */
  LINKS_REDIRECT: Type.Boolean({ default: false }),
  /** Longest lifetime of a presigned URL; never longer than the link's own. */
  LINKS_REDIRECT_MAX_SECONDS: Type.Integer({ minimum: 1, maximum: 604_800, default: 300 }),
})

export type LinksConfig = Static<typeof linksEnvSchema>

export function loadLinksConfig(env: Record<string, string | undefined> = process.env): LinksConfig {
  const config = loadConfig(linksEnvSchema, env)
  requireInProduction(env, ['LINK_SIGNING_KEYS', 'S3_ENDPOINT'])
  return config
}
