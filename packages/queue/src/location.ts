import { bullmqPrefix, toRedisTarget, type RedisTarget } from './redis.js'

/**
 * Where the queue is: `redis` (a target, or a standalone server's URL) or, as callers wrote before
 * clusters, `redisUrl`. `prefix` is QUEUE_PREFIX; on a cluster it becomes a hash tag (bullmqPrefix).
 */
export type QueueLocation = ({ redis: RedisTarget | string } | { redisUrl: string }) & { prefix: string }

export function locate(options: QueueLocation): { target: RedisTarget; prefix: string } {
  const target = toRedisTarget('redis' in options ? options.redis : options.redisUrl)
  return { target, prefix: bullmqPrefix(options.prefix, target) }
}
