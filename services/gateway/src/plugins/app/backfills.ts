import fp from 'fastify-plugin'
import { enqueueMany, Priority } from '@imageapi/queue'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Queues the images of a backfill in the background, at backfill priority (uploads go first).
     * The request does not wait: a tier can have many images, and the rows already say what is
     * owed, so if queueing fails half way the worker's reconciler queues the rest.
     */
    queueBackfill(backfillId: string): void
    /** Resolves once every backfill started so far is queued; for shutdown and tests. */
    backfillsQueued(): Promise<void>
  }
}

export default fp(
  async (app) => {
    const inFlight = new Set<Promise<void>>()

    app.decorate('queueBackfill', (backfillId: string) => {
      const queueing: Promise<void> = enqueueMany(app.thumbnailQueue, app.repos.backfills.pendingImagePages(backfillId), { priority: Priority.backfill })
        .then((images) => app.log.info({ backfillId, images }, 'backfill queued'))
        .catch((error: unknown) => app.log.warn({ err: error, backfillId }, 'backfill not fully queued; the reconciler will queue the rest'))
        .finally(() => inFlight.delete(queueing))
      inFlight.add(queueing)
    })

    app.decorate('backfillsQueued', async () => {
      await Promise.all([...inFlight])
    })

    // before the queue and the database close: let backfills being queued finish
    app.addHook('preClose', async () => app.backfillsQueued())
  },
  { name: 'backfills', dependencies: ['database', 'thumbnail-queue'] },
)
