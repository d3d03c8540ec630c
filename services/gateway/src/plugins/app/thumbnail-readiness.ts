import fp from 'fastify-plugin'

/** How a wait for one thumbnail ended; `pending` means the time ran out first (the work goes on). */
export type ThumbnailWaitOutcome = { status: 'ready' } | { status: 'failed'; error: string } | { status: 'gone' } | { status: 'pending' }

declare module 'fastify' {
  interface FastifyInstance {
    /** Resolves once the thumbnail row is no longer pending, or after `timeoutMs` with `pending`. */
    waitForThumbnail(imageId: string, height: number, timeoutMs: number): Promise<ThumbnailWaitOutcome>
  }
}

// A small image renders in tens of milliseconds: re-read soon, then back off.
const FIRST_RECHECK_MS = 50
const MAX_RECHECK_MS = 1_000

/**
 * Waits on the row, which is the truth, and re-reads it when the image's job completes or fails:
 * the wake-ups come from the image-readiness plugin (one QueueEvents connection per process serves
 * every wait), so a wait costs a handful of primary key reads rather than a poll every few
 * milliseconds. Events are only a wake-up call: a missed one (Redis away, the job lost and queued
 * again by the reconciler) costs at most one backoff step.
 */
export default fp(
  async (app) => {
    app.decorate('waitForThumbnail', async (imageId: string, height: number, timeoutMs: number): Promise<ThumbnailWaitOutcome> => {
      // real time, not app.clock: tests move the clock to expire links, not to skip waiting
      const deadline = Date.now() + timeoutMs
      let signalled = false
      let interrupt: (() => void) | undefined
      const waker = () => {
        signalled = true
        interrupt?.()
      }
      const unsubscribe = app.imageReadiness.onJobSettled(imageId, waker)
      try {
        for (let pause = FIRST_RECHECK_MS; ; pause = Math.min(pause * 2, MAX_RECHECK_MS)) {
          // an event arriving during the read makes the next read happen at once
          signalled = false
          const row = await app.repos.thumbnails.findStatus(imageId, height)
          if (!row) return { status: 'gone' }
          if (row.status === 'ready') return { status: 'ready' }
          if (row.status === 'failed') return { status: 'failed', error: row.error ?? 'rendering failed' }
          const left = deadline - Date.now()
          if (left <= 0) return { status: 'pending' }
          if (signalled) continue
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(pause, left))
            interrupt = () => {
              clearTimeout(timer)
              resolve()
            }
          })
          interrupt = undefined
        }
      } finally {
        unsubscribe()
      }
    })
  },
  { name: 'thumbnail-readiness', dependencies: ['database', 'image-readiness'] },
)
