import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { createRedis, type RedisTarget } from '@imageapi/queue'
import { errorBody } from './errors.js'

export interface RateLimit {
  /** Short name, part of the Redis key and of the message. */
  name: string
  /** Requests allowed per window for one key; 0 = no limit. */
  limit: number
  /** The key to count under, e.g. the caller's IP or user id; undefined skips this limit. */
  key(request: FastifyRequest): string | undefined
}

/** Password guessing on the token route: failures are counted, never successes. */
export interface LoginLimits {
  /** Failed logins from one address (any email) before that address is refused; 0 = no limit. */
  perAddress: number
  /** Failed logins for one email from one address before that pair is refused; 0 = no limit. */
  perAddressAndEmail: number
  /** Failures of one (address, email) after which every further attempt waits 1, 2, 4, … s (at most 60); 0 = no slowing. */
  slowAfter: number
  /** The email the request tries, normalised; undefined when it has none. */
  email(request: FastifyRequest): string | undefined
}

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>
type OnSend = (request: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown>

declare module 'fastify' {
  interface FastifyInstance {
    /** A preHandler that answers 429 with Retry-After once any of the limits is spent. */
    rateLimited(...limits: RateLimit[]): Hook
    /**
     * The token route's guard: `preHandler` refuses (429, Retry-After) an address or (address, email)
     * whose failures are spent, or that must still wait after its last failure; `onSend` keeps the
     * point a 401 spent, gives it back for any other answer, and clears the (address, email) on 200.
     */
    loginLimited(limits: LoginLimits): { preHandler: Hook; onSend: OnSend }
  }
  interface FastifyRequest {
    /** What the login guard reserved for this request, settled by its onSend. */
    loginReservation?: { address?: string; pair?: string; failures: number }
  }
}

/** The longest wait between two failed logins of one (address, email) before the hard limit. */
const MAX_LOGIN_DELAY_SECONDS = 60

/**
 * Rate limits held in Redis (rate-limiter-flexible's RateLimiterRedis over the gateway's ioredis
 * client, a single node or a Cluster: every limiter key is one Redis key, so no command spans two
 * slots), so they hold across every gateway replica. Windows run on Redis's clock (key TTLs), not on
 * `app.clock()`: a window opens at the first request of a key and lasts W = RATE_LIMIT_WINDOW_SECONDS.
 *
 * `rateLimited(limit…)` — uploads, link creation, refresh, logout. Each limit of L per W is two limiters,
 * both must accept: L per W, and a burst limiter of b = max(1, ⌊L/2⌋) per d = max(1, ⌊W/2⌋) s. The
 * guarantee, for one key: **in any span of d seconds at most 2b ≤ L requests are accepted** (L ≥ 2;
 * at most 2 when L = 1), so a burst across a window boundary never gets more than L through (a fixed
 * window alone lets 2L pass); in any span of W at most ⌊3L/2⌋; over time at most L per W.
 * A request refused by the burst limiter does not spend the window's point; refused requests of the
 * window limiter are counted (they do not move the window).
 *
 * `loginLimited(…)` — `POST /api/token/`. Only failures (401) count, per address and per (address,
 * email), over LOGIN_FAILURE_WINDOW_SECONDS from the first failure; a 200 clears the (address, email)
 * count. There is no per-email counter: another address with the right password always gets in.
 * After `slowAfter` failures of one (address, email), the next attempt must wait 1 s, then 2, 4, …
 * (at most 60) after each failure (429 with that Retry-After), until the hard limit blocks the pair for
 * the rest of its window. The preHandler reserves the point before the password is checked (so
 * parallel guesses cannot overrun the limits) and onSend gives it back for any answer but 401.
 *
 * Every refusal is 429 in the gateway's error shape with `Retry-After` (whole seconds, at least 1).
 * **Redis down**: fail open. A limiter that cannot reach Redis (client not ready, or an error) lets
 * the request through and logs a warning: a limiter outage must not take the API down with it.
 */
export default fp<{ redis: RedisTarget; prefix: string; windowSeconds: number; loginFailureWindowSeconds?: number }>(
  async (app, options) => {
    const redis = createRedis(options.redis)
    redis.on('error', () => {})
    app.addHook('onClose', async () => {
      redis.disconnect()
    })
    // the first requests would otherwise pass uncounted while the client connects; a Redis that is
    // down delays the start by at most this, then the limits fail open until it is back
    app.addHook('onReady', async () => {
      if (redis.status === 'ready') return
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 2_000)
        function done() {
          clearTimeout(timer)
          redis.off('ready', done)
          resolve()
        }
        redis.once('ready', done)
      })
    })
    app.decorateRequest('loginReservation', undefined)
    const windowSeconds = options.windowSeconds
    const failureWindow = options.loginFailureWindowSeconds ?? 15 * 60
    const limiters = new Map<string, RateLimiterRedis>()
    const limiter = (name: string, points: number, duration: number) => {
      const id = `${name}/${points}/${duration}`
      let found = limiters.get(id)
      if (!found) {
        found = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${options.prefix}:rate:${name}`, points, duration, rejectIfRedisNotReady: true })
        limiters.set(id, found)
      }
      return found
    }
    const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))
    const refuse = (reply: FastifyReply, retryAfter: number, name: string, rule: string) => {
      reply.header('retry-after', String(retryAfter))
      return reply.code(429).send(errorBody(429, `too many requests (${name}): ${rule}, try again in ${retryAfter} s`))
    }
    const unavailable = (request: FastifyRequest, error: unknown) => request.log.warn({ err: error }, 'rate limiter unavailable; request let through')

    app.decorate('rateLimited', (...limits: RateLimit[]) => {
      const pairs = limits
        .filter((limit) => limit.limit > 0)
        .map((limit) => {
          const burstPoints = Math.max(1, Math.floor(limit.limit / 2))
          const burstSeconds = Math.max(1, Math.floor(windowSeconds / 2))
          return {
            limit,
            burstPoints,
            burstSeconds,
            burst: limiter(`${limit.name}:burst`, burstPoints, burstSeconds),
            window: limiter(limit.name, limit.limit, windowSeconds),
          }
        })
      return async (request: FastifyRequest, reply: FastifyReply) => {
        for (const { limit, burst, window, burstPoints, burstSeconds } of pairs) {
          const key = limit.key(request)
          if (key === undefined) continue
          try {
            await burst.consume(key)
          } catch (error) {
            if (!(error instanceof RateLimiterRes)) return unavailable(request, error)
            const retryAfter = seconds(error.msBeforeNext)
            return refuse(reply, retryAfter, limit.name, `at most ${burstPoints} per ${burstSeconds} s and ${limit.limit} per ${windowSeconds} s`)
          }
          try {
            await window.consume(key)
          } catch (error) {
            if (!(error instanceof RateLimiterRes)) return unavailable(request, error)
            const retryAfter = seconds(error.msBeforeNext)
            return refuse(reply, retryAfter, limit.name, `at most ${limit.limit} per ${windowSeconds} s`)
          }
        }
      }
    })

    app.decorate('loginLimited', (limits: LoginLimits) => {
      const perAddress = limits.perAddress > 0 ? limiter('login-ip', limits.perAddress, failureWindow) : undefined
      const perPair = limits.perAddressAndEmail > 0 ? limiter('login-ip-email', limits.perAddressAndEmail, failureWindow) : undefined
      // a key here is blocked (consumed > points) for the wait after a failure
      const delay = limiter('login-delay', 1, MAX_LOGIN_DELAY_SECONDS)
      const pairKey = (request: FastifyRequest) => {
        const email = limits.email(request)
        return email === undefined ? undefined : `${request.ip}|${email}`
      }

      const preHandler = async (request: FastifyRequest, reply: FastifyReply) => {
        const pair = pairKey(request)
        // settled by onSend, whatever was reserved before an error (fail-open) too
        const reservation: NonNullable<FastifyRequest['loginReservation']> = { failures: 0 }
        request.loginReservation = reservation
        try {
          if (pair !== undefined && limits.slowAfter > 0) {
            const waiting = await delay.get(pair)
            if (waiting && waiting.consumedPoints > 1 && waiting.msBeforeNext > 0) {
              const retryAfter = seconds(waiting.msBeforeNext)
              request.loginReservation = undefined
              return refuse(reply, retryAfter, 'login-delay', `failed logins for this email from this address wait longer after each failure`)
            }
          }
          if (perAddress) {
            try {
              await perAddress.consume(request.ip)
              reservation.address = request.ip
            } catch (error) {
              if (!(error instanceof RateLimiterRes)) throw error
              await perAddress.reward(request.ip).catch(() => {})
              request.loginReservation = undefined
              return refuse(reply, seconds(error.msBeforeNext), 'login-ip', `at most ${limits.perAddress} failed logins per ${failureWindow} s from one address`)
            }
          }
          if (perPair && pair !== undefined) {
            try {
              const spent = await perPair.consume(pair)
              reservation.pair = pair
              reservation.failures = spent.consumedPoints
            } catch (error) {
              if (!(error instanceof RateLimiterRes)) throw error
              await perPair.reward(pair).catch(() => {})
              if (reservation.address !== undefined) await perAddress?.reward(reservation.address).catch(() => {})
              request.loginReservation = undefined
              return refuse(reply, seconds(error.msBeforeNext), 'login-email', `at most ${limits.perAddressAndEmail} failed logins per ${failureWindow} s for one email from one address`)
            }
          }
        } catch (error) {
          return unavailable(request, error)
        }
      }

      const onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
        const reservation = request.loginReservation
        if (!reservation) return payload
        request.loginReservation = undefined
        try {
          if (reply.statusCode === 401) {
            // a failure: the reserved points stay spent; past slowAfter, the next attempt waits
            const over = reservation.failures - limits.slowAfter
            if (reservation.pair !== undefined && limits.slowAfter > 0 && over >= 0 && reservation.failures < limits.perAddressAndEmail) {
              await delay.block(reservation.pair, Math.min(2 ** over, MAX_LOGIN_DELAY_SECONDS))
            }
          } else {
            if (reservation.address !== undefined) await perAddress?.reward(reservation.address)
            if (reservation.pair !== undefined) {
              if (reply.statusCode === 200) await Promise.all([perPair?.delete(reservation.pair), delay.delete(reservation.pair)])
              else await perPair?.reward(reservation.pair)
            }
          }
        } catch (error) {
          request.log.warn({ err: error }, 'rate limiter unavailable; login attempt not recorded')
        }
        return payload
      }
      return { preHandler, onSend }
    })
  },
  { name: 'rate-limits' },
)
