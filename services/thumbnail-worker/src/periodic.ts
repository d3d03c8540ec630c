import type { Logger } from '@imageapi/logger'

/**
 * Runs `pass` every `intervalMs`, never two at once (a slow pass makes the next wait), logging a
 * failure as a warning (the next pass retries). `stop()` ends the timer and waits for a pass in
 * flight, so shutdown closes nothing under it.
 */
export function runPeriodically(pass: () => Promise<unknown>, intervalMs: number, log: Logger, what: string): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve()
  let busy = false
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    running = pass()
      .catch((error) => log.warn({ err: error }, `${what} failed; will retry`))
      .finally(() => {
        busy = false
      })
  }, intervalMs)
  timer.unref()
  return {
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
