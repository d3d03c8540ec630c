import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'
import type { RenditionFormat, ServedFormat, SourceFormat } from '@imageapi/media'

/** Timestamps are written by Postgres (defaults, now()) and read back as Date. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>

/** An image's stored format: the media model's source format, by the same name as in image-probe. */
export type ImageFormat = SourceFormat
export type ThumbnailStatus = 'pending' | 'ready' | 'failed'

export interface TiersTable {
  id: Generated<number>
  name: string
  /** Distinct heights in ascending order; the worker reads these, never a tier name. */
  thumbnail_heights: number[]
  original_link: boolean
  expiring_links: boolean
  created_at: Timestamp
  updated_at: Timestamp
}

export interface UsersTable {
  id: Generated<string>
  /** Stored lower-cased so lookups and the unique index agree. */
  email: string
  password_hash: string
  tier_id: number
  is_admin: ColumnType<boolean, boolean | undefined, boolean>
  is_active: ColumnType<boolean, boolean | undefined, boolean>
  /** In every token as `ver`; bumped (password change, deactivation, sign-out everywhere) to void all issued before. */
  token_version: ColumnType<number, number | undefined, number>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface ImagesTable {
  id: string
  seq: Generated<number>
  owner_id: string
  title: string
  format: ImageFormat
  /** Displayed size: EXIF orientation already applied. */
  width: number
  height: number
  bytes: ColumnType<number, number, number>
  original_key: string
  /** ThumbHash of the image (a blurred preview in a few dozen bytes), once the worker has made it. */
  placeholder: ColumnType<Buffer | null, Buffer | null | undefined, Buffer | null>
  created_at: Timestamp
}

export interface ThumbnailsTable {
  image_id: string
  height: number
  width: number | null
  status: ColumnType<ThumbnailStatus, ThumbnailStatus | undefined, ThumbnailStatus>
  object_key: string | null
  bytes: number | null
  error: string | null
  /** Asked for explicitly (a compat `custom` box): owed and served whatever heights the tier grants. */
  requested: ColumnType<boolean, boolean | undefined, boolean>
  /** The backfill that made this row owed, when one did (re-tiering); null for uploads. */
  backfill_id: ColumnType<string | null, string | null | undefined, string | null>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface LinksTable {
  id: Generated<string>
  image_id: string
  /** 'original' or a thumbnail height as text. */
  variant: string
  /** The one format a thumbnail link is pinned to; null when negotiated by Accept (and for originals). */
  format: ColumnType<ServedFormat | null, ServedFormat | null | undefined, ServedFormat | null>
  expires_at: Date
  revoked_at: Date | null
  created_at: Timestamp
}

/** An upload through the compat routes: an ordinary image, plus the one variant the route asked for. */
export interface CompatUploadsTable {
  image_id: string
  seq: Generated<number>
  owner_id: string
  /** 'original' or a thumbnail height as text. */
  variant: string
  /** The expiring link handed out when the upload asked for an expiry. */
  link_id: string | null
  created_at: Timestamp
}

export type BackfillReason = 'tier_updated' | 'user_moved' | 'requested' | 'format_enabled'

/** Thumbnails made owed at once by an admin's change; its rows carry its id, so progress is counted from them. */
export interface BackfillsTable {
  id: Generated<string>
  reason: BackfillReason
  tier_id: number | null
  user_id: string | null
  /** The heights it added, ascending. */
  heights: number[]
  /** Images it gave work to. */
  images: number
  /** The rendition format it made owed, for a 'format_enabled' backfill. */
  format: ColumnType<RenditionFormat | null, RenditionFormat | null | undefined, RenditionFormat | null>
  created_at: Timestamp
}

/** Whether a rendition format is made, and how: settings an admin changes (GET/PATCH /api/admin/formats). */
export interface RenditionFormatsTable {
  format: RenditionFormat
  enabled: boolean
  /** The encoder's quality, 1–100. */
  quality: number
  /** The encoder's effort (CPU spent for smaller files): WebP 0–6, AVIF 0–9. */
  effort: number
  updated_at: Timestamp
}

/** A thumbnail in a rendition format: owed, made and recorded like the thumbnail row it belongs to. */
export interface RenditionsTable {
  image_id: string
  height: number
  format: RenditionFormat
  status: ColumnType<ThumbnailStatus, ThumbnailStatus | undefined, ThumbnailStatus>
  object_key: string | null
  bytes: number | null
  error: string | null
  backfill_id: ColumnType<string | null, string | null | undefined, string | null>
  created_at: Timestamp
  updated_at: Timestamp
}

/** Objects whose rows are gone; removed from storage by whoever deleted them, or later by the sweeper. */
export interface ObjectDeletionsTable {
  object_key: string
  created_at: Timestamp
}

export type SessionEndReason = 'logout' | 'revoked' | 'refresh_reused' | 'password_changed' | 'deactivated' | 'signed_out_everywhere'

/** A sign-in: its refresh tokens rotate within it; ended by logout, revocation, reuse or a user-wide event. */
export interface SessionsTable {
  id: Generated<string>
  user_id: string
  /** The id (jti) of the session's current refresh token; any earlier one is used. */
  refresh_jti: string
  created_at: Timestamp
  last_used_at: Timestamp
  /** When the current refresh token expires; slides on each refresh. */
  expires_at: Date
  user_agent: string | null
  address: string | null
  ended_at: ColumnType<Date | null, Date | null | undefined, Date | null>
  ended_reason: ColumnType<SessionEndReason | null, SessionEndReason | null | undefined, SessionEndReason | null>
}

export type PendingUploadKind = 'direct' | 'resumable'

/** An upload whose bytes go straight to storage, until it becomes an image or is swept. */
export interface PendingUploadsTable {
  /** Becomes the image's id. */
  id: string
  owner_id: string
  kind: PendingUploadKind
  title: ColumnType<string, string | undefined, string>
  /** The format the client declared (direct uploads). */
  format: SourceFormat | null
  /** The byte size the client declared: exact for a direct upload, the Upload-Length for TUS. */
  bytes: ColumnType<number, number, number>
  /** Where the client's bytes are staged. */
  object_key: string
  expires_at: Date
  created_at: Timestamp
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed'

/** A user's webhook endpoint: where events they subscribed to are sent, signed with its secret. */
export interface WebhookEndpointsTable {
  id: Generated<string>
  owner_id: string
  url: string
  /** Event type names, never empty. */
  events: string[]
  description: ColumnType<string | null, string | null | undefined, string | null>
  /** The current `whsec_…` secret. */
  secret: string
  /** The secret rotated out, still signed with until `previous_secret_expires_at`. */
  previous_secret: ColumnType<string | null, string | null | undefined, string | null>
  previous_secret_expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>
  enabled: ColumnType<boolean, boolean | undefined, boolean>
  /** Why it was disabled for failing; null when enabled or disabled by its owner. */
  disabled_reason: ColumnType<string | null, string | null | undefined, string | null>
  /** Deliveries that failed after all their retries since the last one delivered. */
  consecutive_failures: ColumnType<number, number | undefined, number>
  /** When the first of those failed. */
  failing_since: ColumnType<Date | null, Date | null | undefined, Date | null>
  created_at: Timestamp
  updated_at: Timestamp
}

/** One event for one endpoint, from queued until delivered or failed after every retry. */
export interface WebhookDeliveriesTable {
  id: Generated<string>
  endpoint_id: string
  /** The `webhook-id` header, the same on every attempt. */
  message_id: string
  event_type: string
  /** The envelope (`type`, `timestamp`, `data`) that is signed and sent. */
  payload: ColumnType<Record<string, unknown>, string, string>
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>
  attempts: ColumnType<number, number | undefined, number>
  last_status_code: ColumnType<number | null, number | null | undefined, number | null>
  last_latency_ms: ColumnType<number | null, number | null | undefined, number | null>
  last_error: ColumnType<string | null, string | null | undefined, string | null>
  /** When to send next; set exactly while pending. */
  next_attempt_at: ColumnType<Date | null, Date | null | undefined, Date | null>
  created_at: Timestamp
  updated_at: Timestamp
  delivered_at: ColumnType<Date | null, Date | null | undefined, Date | null>
}

export interface Database {
  tiers: TiersTable
  users: UsersTable
  images: ImagesTable
  thumbnails: ThumbnailsTable
  links: LinksTable
  object_deletions: ObjectDeletionsTable
  compat_uploads: CompatUploadsTable
  backfills: BackfillsTable
  rendition_formats: RenditionFormatsTable
  renditions: RenditionsTable
  sessions: SessionsTable
  pending_uploads: PendingUploadsTable
  webhook_endpoints: WebhookEndpointsTable
  webhook_deliveries: WebhookDeliveriesTable
}

export type Tier = Selectable<TiersTable>
export type NewTier = Insertable<TiersTable>
export type TierUpdate = Updateable<TiersTable>
export type User = Selectable<UsersTable>
export type NewUser = Insertable<UsersTable>
export type UserUpdate = Updateable<UsersTable>
export type Image = Selectable<ImagesTable>
export type NewImage = Insertable<ImagesTable>
export type Thumbnail = Selectable<ThumbnailsTable>
export type Link = Selectable<LinksTable>
export type Backfill = Selectable<BackfillsTable>
export type RenditionFormatSettings = Selectable<RenditionFormatsTable>
export type Rendition = Selectable<RenditionsTable>
export type Session = Selectable<SessionsTable>
export type PendingUpload = Selectable<PendingUploadsTable>
export type WebhookEndpoint = Selectable<WebhookEndpointsTable>
export type WebhookDelivery = Selectable<WebhookDeliveriesTable>
