import { Type, type Static } from '@fastify/type-provider-typebox'
import type { BackfillProgress, RenditionFormatSettings, TierWithUsers, UserSummary } from '@imageapi/db'
import { errorResponses } from '../schemas.js'

export const AdminTier = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    thumbnail_heights: Type.Array(Type.Integer(), { description: 'Heights in pixels, ascending' }),
    original_link: Type.Boolean(),
    expiring_links: Type.Boolean(),
    users: Type.Integer({ description: 'Users on this tier' }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'AdminTier' },
)
export type AdminTier = Static<typeof AdminTier>

export const AdminUser = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    tier: Type.Object({ id: Type.Integer(), name: Type.String() }),
    is_admin: Type.Boolean(),
    is_active: Type.Boolean({ description: 'An inactive user cannot sign in, and their tokens and links stop working' }),
    images: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'AdminUser' },
)
export type AdminUser = Static<typeof AdminUser>

export const BackfillResource = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    reason: Type.Union([Type.Literal('tier_updated'), Type.Literal('user_moved'), Type.Literal('requested'), Type.Literal('format_enabled')]),
    tier: Type.Union([Type.Object({ id: Type.Integer(), name: Type.String() }), Type.Null()], { description: 'The tier whose heights are owed; null once deleted' }),
    user_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The user moved, for a move' }),
    heights: Type.Array(Type.Integer(), { description: 'Heights it added' }),
    format: Type.Union([Type.Literal('webp'), Type.Literal('avif'), Type.Null()], { description: 'The rendition format turned on, for `format_enabled`' }),
    images: Type.Integer({ description: 'Images it gave work to' }),
    total: Type.Integer({ description: 'Thumbnails (or, for `format_enabled`, renditions) owed; a deleted image takes its own along' }),
    done: Type.Integer(),
    failed: Type.Integer(),
    pending: Type.Integer(),
    finished: Type.Boolean({ description: 'Nothing pending any more' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Backfill' },
)
export type BackfillResource = Static<typeof BackfillResource>

export const RenditionFormatResource = Type.Object(
  {
    format: Type.Union([Type.Literal('webp'), Type.Literal('avif')]),
    enabled: Type.Boolean({ description: 'Made for every new thumbnail, and offered by links; turning it on makes existing thumbnails owe it (a backfill)' }),
    quality: Type.Integer({ minimum: 1, maximum: 100, description: 'Encoder quality, for renditions made from now on' }),
    effort: Type.Integer({ minimum: 0, maximum: 9, description: 'Encoder effort (CPU for smaller files): WebP 0–6, AVIF 0–9' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'RenditionFormat' },
)
export type RenditionFormatResource = Static<typeof RenditionFormatResource>

export function toRenditionFormatResource(settings: RenditionFormatSettings): RenditionFormatResource {
  return { format: settings.format, enabled: settings.enabled, quality: settings.quality, effort: settings.effort, updated_at: settings.updated_at.toISOString() }
}

/** A change that may owe thumbnails answers with the backfill it started, or null when nothing new is owed. */
export const MaybeBackfill = Type.Union([BackfillResource, Type.Null()])

/** Ids of rows with a Postgres `integer` key: anything outside it names no row, and must not reach the query. */
export const INT4_ID = { minimum: 1, maximum: 2_147_483_647 } as const
export const TierIdParams = Type.Object({ id: Type.Integer({ ...INT4_ID, description: 'Tier id' }) })
export const UserIdParams = Type.Object({ id: Type.String({ description: 'User id' }) })

/** Every admin route answers 401 without a token and 403 for someone who is not an admin. */
export function adminErrorResponses(...statuses: number[]) {
  return errorResponses(401, 403, ...statuses)
}

export function toAdminTier(tier: TierWithUsers): AdminTier {
  return {
    id: tier.id,
    name: tier.name,
    thumbnail_heights: tier.thumbnail_heights,
    original_link: tier.original_link,
    expiring_links: tier.expiring_links,
    users: Number(tier.users),
    created_at: tier.created_at.toISOString(),
    updated_at: tier.updated_at.toISOString(),
  }
}

export function toAdminUser(user: UserSummary): AdminUser {
  return {
    id: user.id,
    email: user.email,
    tier: { id: user.tier_id, name: user.tier_name },
    is_admin: user.is_admin,
    is_active: user.is_active,
    images: Number(user.images),
    created_at: user.created_at.toISOString(),
    updated_at: user.updated_at.toISOString(),
  }
}

export function toBackfillResource(backfill: BackfillProgress): BackfillResource {
  return {
    id: backfill.id,
    reason: backfill.reason,
    tier: backfill.tier_id !== null && backfill.tier_name !== null ? { id: backfill.tier_id, name: backfill.tier_name } : null,
    user_id: backfill.user_id,
    heights: backfill.heights,
    format: backfill.format,
    images: backfill.images,
    total: backfill.total,
    done: backfill.done,
    failed: backfill.failed,
    pending: backfill.pending,
    finished: backfill.pending === 0,
    created_at: backfill.created_at.toISOString(),
  }
}
