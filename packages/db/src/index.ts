export * from './schema.js'
export { createDatabase, isDatabaseUnavailable, pingDatabase, type DatabaseOptions } from './connection.js'
export { migrateToLatest, type MigrationReport } from './migrator.js'
export { TiersRepository, type TierChanges, type TierWithUsers } from './repositories/tiers.js'
export { UsersRepository, type UserWithTier, type UserSummary, type UserPage, type UserChanges } from './repositories/users.js'
export { BackfillsRepository, type BackfillProgress, type RetierScope } from './repositories/backfills.js'
export { ImagesRepository, type ImageWithThumbnails, type ImagePage, type ImageForServing } from './repositories/images.js'
export { ThumbnailsRepository, renditionName, type OwedRendition, type ReadyRendition, type ReadyThumbnail, type ThumbnailWork } from './repositories/thumbnails.js'
export { RenditionFormatsRepository, type RenditionFormatChange } from './repositories/rendition-formats.js'
export { LinksRepository } from './repositories/links.js'
export { SessionsRepository, type NewSession, type SessionSummary, type SessionPage, type RotateResult } from './repositories/sessions.js'
export { ObjectDeletionsRepository } from './repositories/object-deletions.js'
export { PendingUploadsRepository, type CompleteResult, type NewPendingUpload } from './repositories/pending-uploads.js'
export {
  WebhooksRepository,
  webhookSigningSecrets,
  PREVIOUS_WEBHOOK_SECRET_MS,
  MAX_WEBHOOK_ERROR_LENGTH,
  type NewWebhookEndpoint,
  type CreateWebhookEndpointResult,
  type WebhookEndpointChanges,
  type NewWebhookDelivery,
  type WebhookDeliveryPosition,
  type WebhookDeliveryPage,
  type WebhookFailureRecord,
  type WebhookAttemptResult,
  type RecordedWebhookAttempt,
  type DueWebhookDelivery,
  type WebhookEndpointHealth,
} from './repositories/webhooks.js'
export {
  CompatUploadsRepository,
  type CompatVariant,
  type CompatUploadEntry,
  type CompatUploadPage,
  type NewCompatUpload,
  type CreatedCompatUpload,
} from './repositories/compat-uploads.js'
export type { Kysely } from 'kysely'
export { createRepositories, type Repositories } from './repositories/index.js'
export { databaseEnvSchema, databaseMigrationEnvSchema } from './env.js'
