import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { createRedis, type RedisTarget } from '@imageapi/queue'
import { errorBody } from './errors.js'

export interface RateLimit {
  /** Short name, part of the Redis key and of the message. */
  name: string
  /** Requests allowed per window for one key. */
  limit: number
  /** The key to count under, e.g. the caller's IP or user id; undefined skips this limit. */
  key(request: FastifyRequest): string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** A preHandler that answers 429 with Retry-After once any of the limits is spent. */
    rateLimited(...limits: RateLimit[]): (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

/**
 * Fixed-window counters in Redis, so the limits hold across every gateway replica. The window is
 * read from `app.clock()` (Date.now unless buildApp was given a clock), so tests place requests in
 * a window, or on either side of a boundary, without depending on the wall clock's minutes. A
 * counter starts at 0 in each new window: up to twice the limit can pass around a boundary. If Redis is
 * unreachable the request goes through: a limiter outage must not take the API down with it.
 * Each counter is one key and its MULTI touches only that key, so on a Redis Cluster the counters
 * spread over the slots and no command ever spans two (no CROSSSLOT).
 */
export default fp<{ redis: RedisTarget; prefix: string; windowSeconds: number }>(
  async (app, options) => {
    // the app's injectable clock (buildApp's `clock`, Date.now by default)
    const now = app.hasDecorator('clock') ? () => app.clock() : Date.now
    const redis = createRedis(options.redis)
    redis.on('error', () => {})
    app.addHook('onClose', async () => {
      redis.disconnect()
    })

    app.decorate('rateLimited', (...limits: RateLimit[]) => async (request: FastifyRequest, reply: FastifyReply) => {
      // one reading of the clock, so the window and Retry-After always agree
      const nowSeconds = Math.floor(now() / 1000)
      const window = Math.floor(nowSeconds / options.windowSeconds)
      const retryAfter = options.windowSeconds - (nowSeconds % options.windowSeconds)
      for (const limit of limits) {
        const key = limit.key(request)
        if (key === undefined || limit.limit <= 0) continue
        const redisKey = `${options.prefix}:rate:${limit.name}:${key}:${window}`
        let count: number
        try {
          const results = await redis.multi().incr(redisKey).expire(redisKey, options.windowSeconds + 1).exec()
          count = Number(results?.[0]?.[1] ?? 0)
        } catch (error) {
          request.log.warn({ err: error }, 'rate limiter unavailable; request let through')
          return
        }
        if (count > limit.limit) {
          reply.header('retry-after', String(retryAfter))
          return reply.code(429).send(errorBody(429, `too many requests (${limit.name}): at most ${limit.limit} per ${options.windowSeconds} s, try again in ${retryAfter} s`))
        }
      }
    })
  },
  { name: 'rate-limits' },
)
