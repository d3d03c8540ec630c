import type { FastifyInstance } from 'fastify'
import type { Backfill } from '@imageapi/db'
import { toBackfillResource, type BackfillResource } from '../routes/admin/schemas.js'

/** Starts queueing a backfill a change created and answers with its progress; null when the change owed nothing. */
export async function startedBackfill(app: FastifyInstance, backfill: Backfill | undefined): Promise<BackfillResource | null> {
  if (!backfill) return null
  app.queueBackfill(backfill.id)
  const progress = await app.repos.backfills.find(backfill.id)
  return progress ? toBackfillResource(progress) : null
}
