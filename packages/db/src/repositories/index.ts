import type { Kysely } from 'kysely'
import type { Database } from '../schema.js'
import { BackfillsRepository } from './backfills.js'
import { CompatUploadsRepository } from './compat-uploads.js'
import { ImagesRepository } from './images.js'
import { LinksRepository } from './links.js'
import { ObjectDeletionsRepository } from './object-deletions.js'
import { PendingUploadsRepository } from './pending-uploads.js'
import { RenditionFormatsRepository } from './rendition-formats.js'
import { SessionsRepository } from './sessions.js'
import { ThumbnailsRepository } from './thumbnails.js'
import { TiersRepository } from './tiers.js'
import { UsersRepository } from './users.js'
import { WebhooksRepository } from './webhooks.js'

export interface Repositories {
  tiers: TiersRepository
  users: UsersRepository
  images: ImagesRepository
  thumbnails: ThumbnailsRepository
  objectDeletions: ObjectDeletionsRepository
  links: LinksRepository
  compatUploads: CompatUploadsRepository
  backfills: BackfillsRepository
  renditionFormats: RenditionFormatsRepository
  sessions: SessionsRepository
  pendingUploads: PendingUploadsRepository
  webhooks: WebhooksRepository
}

export function createRepositories(db: Kysely<Database>): Repositories {
  return {
    tiers: new TiersRepository(db),
    users: new UsersRepository(db),
    images: new ImagesRepository(db),
    thumbnails: new ThumbnailsRepository(db),
    objectDeletions: new ObjectDeletionsRepository(db),
    links: new LinksRepository(db),
    compatUploads: new CompatUploadsRepository(db),
    backfills: new BackfillsRepository(db),
    renditionFormats: new RenditionFormatsRepository(db),
    sessions: new SessionsRepository(db),
    pendingUploads: new PendingUploadsRepository(db),
    webhooks: new WebhooksRepository(db),
  }
}
