import fp from 'fastify-plugin'
import { createThumbnailQueueEvents, thumbnailJobId, type RedisTarget } from '@imageapi/queue'

/** How a wait ended: the work settled, the time ran out, too many waits already, or the client left. */
export type ReadinessOutcome = 'settled' | 'timeout' | 'busy' | 'aborted'

export interface ReadinessWait<T> {
  /** Reads the current state (a short query; no connection is held between reads). */
  read(): Promise<T>
  /** Whether the state still owes work, i.e. the wait goes on. */
  pending(state: T): boolean
  timeoutMs: number
  /** Aborted when the client goes away: the waiter is dropped at once. */
  signal?: AbortSignal
}

export interface ImageReadiness {
  /**
   * Answers with the state once it owes nothing, or with the current state at the timeout. The state
   * is read once at the start and then once per wake-up (the image's thumbnail job completed or
   * failed, seen on the queue's events), never on a timer: no polling loop per wait.
   */
  waitUntilSettled<T>(imageId: string, wait: ReadinessWait<T>): Promise<{ state: T; outcome: ReadinessOutcome }>
  /**
   * Calls `listener` whenever the image's thumbnail job completes or fails (on any worker, seen
   * through Redis). Returns the function that stops it.
   */
  onJobSettled(imageId: string, listener: () => void): () => void
  /** Waits in progress in this process. */
  readonly waiting: number
  /** Beyond this many waits, a wait answers at once with the current state (outcome `busy`). */
  readonly maxWaiters: number
}

declare module 'fastify' {
  interface FastifyInstance {
    imageReadiness: ImageReadiness
  }
}

export const DEFAULT_MAX_WAITERS = 1_000
const CLOSE_TIMEOUT_MS = 5_000

/**
 * Wake-ups for waits on images, shared by every wait in the process: one BullMQ QueueEvents
 * connection (one blocking XREAD on the queue's event stream in Redis) tells this process, whichever
 * process ran the job, when an image's job completed or failed. Every gateway instance reads the same
 * stream, so a wait on one instance is woken by work queued by another. Events only say "look
 * again": the rows in Postgres are the truth. If Redis is away, waits answer at their timeout with
 * the current state.
 */
export default fp<{ redis: RedisTarget; prefix: string; maxWaiters?: number }>(
  async (app, options) => {
    const maxWaiters = options.maxWaiters ?? DEFAULT_MAX_WAITERS
    const events = createThumbnailQueueEvents({ redis: options.redis, prefix: options.prefix })
    events.on('error', (error) => app.log.warn({ err: error }, 'thumbnail queue events error; waits end at their timeout'))
    const listeners = new Map<string, Set<() => void>>()
    const wake = ({ jobId }: { jobId: string }) => {
      const waiting = listeners.get(jobId)
      if (!waiting) return
      for (const listener of [...waiting]) {
        try {
          listener()
        } catch (error) {
          app.log.error({ err: error }, 'image readiness listener failed')
        }
      }
    }
    events.on('completed', wake)
    events.on('failed', wake)
    app.addHook('onClose', async () => {
      // BullMQ's close waits for a connection that was never made (Redis away since start-up): shutdown must not
      let timer: NodeJS.Timeout | undefined
      const closing = events.close().then(() => true)
      const gaveUp = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS)))
      if (!(await Promise.race([closing, gaveUp]))) app.log.warn('thumbnail queue events did not close in time (Redis unreachable?); left behind')
      clearTimeout(timer)
    })

    function onJobSettled(imageId: string, listener: () => void): () => void {
      const jobId = thumbnailJobId(imageId)
      const waiting = listeners.get(jobId) ?? new Set()
      waiting.add(listener)
      listeners.set(jobId, waiting)
      return () => {
        waiting.delete(listener)
        if (waiting.size === 0 && listeners.get(jobId) === waiting) listeners.delete(jobId)
      }
    }

    let waiters = 0

    async function waitUntilSettled<T>(imageId: string, wait: ReadinessWait<T>): Promise<{ state: T; outcome: ReadinessOutcome }> {
      if (waiters >= maxWaiters) {
        const state = await wait.read()
        return { state, outcome: wait.pending(state) ? 'busy' : 'settled' }
      }
      waiters++
      // real time, not app.clock: tests move the clock to expire links, not to skip waiting
      const deadline = Date.now() + wait.timeoutMs
      // woken: an event came since the last read. The one promise a wait sleeps on is replaced per sleep.
      let woken = false
      let interrupt: (() => void) | undefined
      const unsubscribe = onJobSettled(imageId, () => {
        woken = true
        interrupt?.()
      })
      let timer: NodeJS.Timeout | undefined
      const onAbort = () => interrupt?.()
      wait.signal?.addEventListener('abort', onAbort)
      try {
        // subscribed before this first read: a job finishing during it wakes the wait below
        let state = await wait.read()
        for (;;) {
          if (!wait.pending(state)) return { state, outcome: 'settled' }
          if (wait.signal?.aborted) return { state, outcome: 'aborted' }
          if (!woken) {
            const left = deadline - Date.now()
            // just read: the state is current
            if (left <= 0) return { state, outcome: 'timeout' }
            await new Promise<void>((resolve) => {
              interrupt = resolve
              timer = setTimeout(resolve, left)
            })
            interrupt = undefined
            clearTimeout(timer)
            if (wait.signal?.aborted) return { state, outcome: 'aborted' }
            if (!woken) {
              // the time ran out: the answer is the state as it is now (an event may have been missed)
              state = await wait.read()
              return { state, outcome: wait.pending(state) ? 'timeout' : 'settled' }
            }
          }
          // events that arrive during this read make one more read, not one each
          woken = false
          state = await wait.read()
        }
      } finally {
        clearTimeout(timer)
        wait.signal?.removeEventListener('abort', onAbort)
        unsubscribe()
        waiters--
      }
    }

    app.decorate('imageReadiness', {
      waitUntilSettled,
      onJobSettled,
      get waiting() {
        return waiters
      },
      maxWaiters,
    })
  },
  { name: 'image-readiness' },
)
