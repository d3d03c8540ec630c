const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE

/**
 * The delay before each retry, after the first attempt which is sent immediately: the schedule the
 * Standard Webhooks specification recommends, which gives a receiver about a day to come back.
 */
export const RETRY_DELAYS_MS: readonly number[] = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]

/** The first attempt and one per retry delay; after the last one fails, the delivery is `failed`. */
export const MAX_DELIVERY_ATTEMPTS = 1 + RETRY_DELAYS_MS.length

/** Retries are spread by up to this fraction either way, so endpoints that failed together do not all retry in the same instant. */
export const RETRY_JITTER = 0.2

/**
 * How long to wait before the next attempt, given how many attempts have been made: 0 before the
 * first, a jittered schedule delay before each retry, `undefined` once every attempt is used up.
 * `random` returns a number in [0, 1), like Math.random.
 */
export function nextRetryDelayMs(attemptsMade: number, random: () => number = Math.random): number | undefined {
  if (!Number.isInteger(attemptsMade) || attemptsMade < 0) {
    throw new RangeError(`nextRetryDelayMs: attemptsMade must be a whole number of at least 0, got ${attemptsMade}`)
  }
  if (attemptsMade === 0) return 0
  const delay = RETRY_DELAYS_MS[attemptsMade - 1]
  if (delay === undefined) return undefined
  const spread = (random() * 2 - 1) * RETRY_JITTER
  return Math.round(delay * (1 + spread))
}

/** Consecutive deliveries (each after all its retries) that may fail before an endpoint is disabled. */
export const DISABLE_AFTER_CONSECUTIVE_FAILURES = 20
/** How long an endpoint may fail every delivery before it is disabled, however few deliveries that was. */
export const DISABLE_AFTER_FAILING_FOR_MS = 24 * HOUR

export interface EndpointFailureRecord {
  /** Deliveries that ended `failed` (or `refused`) since the last one that was delivered. */
  readonly consecutiveFailures: number
  /** When the first of those failed; undefined when the last delivery succeeded. */
  readonly firstFailureAt: Date | undefined
  readonly now: Date
}

/**
 * Whether to disable an endpoint, and why, in words meant for its owner. Keeps sending to a dead
 * endpoint from costing a delivery worker a day of retries per event forever.
 */
export function shouldDisableEndpoint({ consecutiveFailures, firstFailureAt, now }: EndpointFailureRecord): string | undefined {
  if (consecutiveFailures <= 0) return undefined
  if (consecutiveFailures >= DISABLE_AFTER_CONSECUTIVE_FAILURES) {
    return `disabled after ${consecutiveFailures} consecutive failed deliveries`
  }
  if (firstFailureAt !== undefined && now.getTime() - firstFailureAt.getTime() >= DISABLE_AFTER_FAILING_FOR_MS) {
    return `disabled because every delivery has failed since ${firstFailureAt.toISOString()} (more than 24 hours)`
  }
  return undefined
}
