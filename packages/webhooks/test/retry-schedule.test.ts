import t from 'tap'
import {
  DISABLE_AFTER_CONSECUTIVE_FAILURES,
  DISABLE_AFTER_FAILING_FOR_MS,
  MAX_DELIVERY_ATTEMPTS,
  nextRetryDelayMs,
  RETRY_DELAYS_MS,
  shouldDisableEndpoint,
} from '../src/index.js'

const HOUR = 3_600_000
const middle = () => 0.5

t.test('the schedule is immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', async (t) => {
  t.equal(MAX_DELIVERY_ATTEMPTS, 8)
  const delays = Array.from({ length: MAX_DELIVERY_ATTEMPTS }, (_, attemptsMade) => nextRetryDelayMs(attemptsMade, middle))
  t.same(delays, [0, 5_000, 300_000, 1_800_000, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR])
})

t.test('the delays add up to about a day (between 24 and 30 hours)', async (t) => {
  const total = RETRY_DELAYS_MS.reduce((sum, delay) => sum + delay, 0)
  t.ok(total >= 24 * HOUR && total <= 30 * HOUR, `total is ${total / HOUR} hours`)
})

t.test('jitter stays within ±20 % at the extremes of random', async (t) => {
  for (let attemptsMade = 1; attemptsMade < MAX_DELIVERY_ATTEMPTS; attemptsMade++) {
    const base = RETRY_DELAYS_MS[attemptsMade - 1]!
    t.equal(nextRetryDelayMs(attemptsMade, () => 0), Math.round(base * 0.8), `lowest after ${attemptsMade}`)
    const highest = nextRetryDelayMs(attemptsMade, () => 0.999_999)!
    t.ok(highest <= Math.round(base * 1.2) && highest > base * 1.19, `highest after ${attemptsMade} is ${highest}`)
  }
})

t.test('with Math.random every delay lies within ±20 % of the schedule', async (t) => {
  for (let round = 0; round < 200; round++) {
    const attemptsMade = 1 + (round % (MAX_DELIVERY_ATTEMPTS - 1))
    const base = RETRY_DELAYS_MS[attemptsMade - 1]!
    const delay = nextRetryDelayMs(attemptsMade)!
    if (delay < base * 0.8 - 1 || delay > base * 1.2 + 1) t.fail(`delay ${delay} outside ±20 % of ${base}`)
  }
  t.pass('200 jittered delays within bounds')
})

t.test('after the last attempt the schedule is exhausted', async (t) => {
  t.equal(nextRetryDelayMs(MAX_DELIVERY_ATTEMPTS), undefined)
  t.equal(nextRetryDelayMs(MAX_DELIVERY_ATTEMPTS + 5), undefined)
})

t.test('a negative or fractional attempt count is a caller bug and throws', async (t) => {
  t.throws(() => nextRetryDelayMs(-1), RangeError)
  t.throws(() => nextRetryDelayMs(1.5), RangeError)
})

const now = new Date('2026-03-02T00:00:00Z')
const hoursAgo = (hours: number) => new Date(now.getTime() - hours * HOUR)

t.test('an endpoint with no failures is kept', async (t) => {
  t.equal(shouldDisableEndpoint({ consecutiveFailures: 0, firstFailureAt: undefined, now }), undefined)
})

t.test('an endpoint is disabled at 20 consecutive failures, not at 19', async (t) => {
  t.equal(DISABLE_AFTER_CONSECUTIVE_FAILURES, 20)
  t.equal(shouldDisableEndpoint({ consecutiveFailures: 19, firstFailureAt: hoursAgo(1), now }), undefined)
  t.match(shouldDisableEndpoint({ consecutiveFailures: 20, firstFailureAt: hoursAgo(1), now }), /20 consecutive failed deliveries/)
})

t.test('an endpoint failing every delivery for 24 hours is disabled even with few failures', async (t) => {
  t.equal(DISABLE_AFTER_FAILING_FOR_MS, 24 * HOUR)
  t.equal(shouldDisableEndpoint({ consecutiveFailures: 3, firstFailureAt: hoursAgo(23.9), now }), undefined)
  t.match(shouldDisableEndpoint({ consecutiveFailures: 3, firstFailureAt: hoursAgo(24), now }), /every delivery has failed since 2026-03-01T00:00:00.000Z/)
})

t.test('an old firstFailureAt with no current failures does not disable', async (t) => {
  t.equal(shouldDisableEndpoint({ consecutiveFailures: 0, firstFailureAt: hoursAgo(48), now }), undefined)
})
