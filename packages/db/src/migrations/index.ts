import type { Migration } from 'kysely/migration'
import * as initial from './0001_initial.js'
import * as seedTiers from './0002_seed_tiers.js'
import * as admin from './0003_admin.js'
import * as compat from './0004_compat.js'
import * as imagesSeqNotUnique from './0005_images_seq_not_unique.js'
import * as renditions from './0006_renditions.js'
import * as sessions from './0007_sessions.js'
import * as pendingUploads from './0008_pending_uploads.js'
import * as webhooks from './0009_webhooks.js'

/** Listed in code (not read from a folder) so the migrator works the same from src and from dist. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_seed_tiers': seedTiers,
  '0003_admin': admin,
  '0004_compat': compat,
  '0005_images_seq_not_unique': imagesSeqNotUnique,
  '0006_renditions': renditions,
  '0007_sessions': sessions,
  '0008_pending_uploads': pendingUploads,
  '0009_webhooks': webhooks,
}
