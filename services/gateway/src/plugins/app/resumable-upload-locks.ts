import { randomUUID } from 'node:crypto'
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/server'
import { createRedis, type RedisTarget } from '@imageapi/queue'

/** How long a lock lives unless its holder renews it: a crashed gateway's locks lapse this fast. */
const LOCK_TTL_MS = 10_000
const RENEW_EVERY_MS = 3_000
const RETRY_EVERY_MS = 100
/** A request waits this long for another's lock, then fails (TUS answers 500: the client retries). */
const ACQUIRE_TIMEOUT_MS = 30_000

const RELEASE_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
const RENEW_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"

export interface UploadLocker extends Locker {
  close(): Promise<void>
}

/**
 * TUS requests on one upload must take turns: two PATCHes writing parts at once corrupt it. The
 * TUS server's own locker holds locks in one process; a client that resumes through another gateway
 * (its old connection half-open on the first) needs them shared. This one keeps each lock in Redis
 * (SET NX with a TTL its holder renews), and a request finding the lock taken asks the holder, on
 * a pub/sub channel every gateway listens to, to let go: the holder ends its request (keeping what
 * arrived) and unlocks, as TUS recommends for half-open connections.
 */
export async function createRedisUploadLocker(options: { redis: RedisTarget; prefix: string }): Promise<UploadLocker> {
  const commands = createRedis(options.redis)
  const subscriber = createRedis(options.redis, { worker: true })
  const channel = `${options.prefix}:tus-release`
  const keyOf = (id: string) => `${options.prefix}:tus-lock:${id}`
  /** Release callbacks of the locks this process holds, by upload id. */
  const held = new Map<string, RequestRelease>()
  subscriber.on('message', (_channel: string, id: string) => void held.get(id)?.())
  // errors are the commands' to report; a subscriber that drops reconnects and resubscribes
  subscriber.on('error', () => {})
  commands.on('error', () => {})
  await subscriber.subscribe(channel)

  class RedisUploadLock implements Lock {
    readonly #token = randomUUID()
    #renewal: NodeJS.Timeout | undefined
    constructor(readonly id: string) {}

    async lock(stopSignal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
      const key = keyOf(this.id)
      const deadline = Date.now() + ACQUIRE_TIMEOUT_MS
      let askedAt = 0
      for (;;) {
        if ((await commands.set(key, this.#token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') break
        if (stopSignal.aborted || Date.now() > deadline) throw ERRORS.ERR_LOCK_TIMEOUT
        // ask the holder to let go, again each second in case it had not taken the lock yet
        if (Date.now() - askedAt > 1_000) {
          askedAt = Date.now()
          await commands.publish(channel, this.id)
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY_MS))
      }
      held.set(this.id, requestRelease)
      this.#renewal = setInterval(() => void commands.eval(RENEW_IF_OURS, 1, key, this.#token, LOCK_TTL_MS).catch(() => {}), RENEW_EVERY_MS)
      this.#renewal.unref()
    }

    async unlock(): Promise<void> {
      clearInterval(this.#renewal)
      held.delete(this.id)
      await commands.eval(RELEASE_IF_OURS, 1, keyOf(this.id), this.#token)
    }
  }

  return {
    newLock: (id) => new RedisUploadLock(id),
    async close() {
      subscriber.disconnect()
      await commands.quit().catch(() => commands.disconnect())
    },
  }
}
