import { timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { BoundHistogram } from './bound-metrics.js'

declare module 'fastify' {
  // @fastify/swagger reads this; declared here too so the package compiles on its own
  interface FastifySchema {
    hide?: boolean
  }
  interface FastifyInstance {
    /** This process's Prometheus registry (one per app, so tests can build several). */
    metrics: Registry
  }
}

/** A dependency the service needs; resolves when it answers, rejects when it does not. */
export type ReadinessCheck = () => Promise<unknown>

export interface OperationsOptions {
  /** Dependencies by name (postgres, redis, storage), probed by /readyz. */
  checks: Record<string, ReadinessCheck>
  /**
   * When set, /metrics and /readyz want `Authorization: Bearer <token>` (readiness names hosts,
   * buckets and refused credentials); /healthz stays public for health checks.
   */
  metricsToken?: string
  /** How long one readiness probe may take before it counts as down. */
  checkTimeoutMs?: number
  registry?: Registry
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    )
  })
}

/** The first line of a failed check's error, bounded: enough to act on, no stack or dump. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const line = message.split('\n')[0]!.trim() || 'no answer'
  return line.length > 200 ? `${line.slice(0, 199)}…` : line
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '')
  const expected = Buffer.from(`Bearer ${token}`)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/**
 * /healthz (the process answers), /readyz (every dependency answers; 503 naming those that do not, and why),
 * /metrics (Prometheus), and a request-duration histogram by route and status for every request.
 * These routes are left out of the OpenAPI document and of the request histogram.
 */
export const operations = fp<OperationsOptions>(
  async (app: FastifyInstance, options) => {
    const registry = options.registry ?? new Registry()
    collectDefaultMetrics({ register: registry })
    app.decorate('metrics', registry)

    const requestDuration = new BoundHistogram<'method' | 'route' | 'status'>(
      'http_request_duration_seconds',
      'HTTP request duration by route and status',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      [registry],
    )
    const operational = new Set(['/healthz', '/readyz', '/metrics'])
    // label sets are few (method × route × status): each is bound once, on its first request
    const series = new Map<string, ReturnType<typeof requestDuration.bind>>()
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched'
      if (!operational.has(route)) {
        const key = `${request.method} ${reply.statusCode} ${route}`
        let child = series.get(key)
        if (!child) {
          child = requestDuration.bind({ method: request.method, route, status: String(reply.statusCode) })
          series.set(key, child)
        }
        child.observe(reply.elapsedTime / 1000)
      }
      done()
    })

    const hidden = { schema: { hide: true }, logLevel: 'warn' as const }
    const metricsToken = options.metricsToken
    // only on the two routes that want it: the other routes pay nothing
    const tokenRequired = metricsToken
      ? {
          onRequest: (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
            if (tokenMatches(request.headers.authorization, metricsToken)) return done()
            reply
              .code(401)
              .header('www-authenticate', 'Bearer realm="metrics"')
              .send({ statusCode: 401, error: 'Unauthorized', message: `${request.routeOptions.url} needs the metrics token: Authorization: Bearer <METRICS_TOKEN>` })
          },
        }
      : {}
    app.get('/healthz', hidden, async () => ({ status: 'ok' }))
    app.get('/readyz', { ...hidden, ...tokenRequired }, async (_request, reply) => {
      const names = Object.keys(options.checks)
      const results = await Promise.allSettled(names.map((name) => withTimeout(options.checks[name]!(), options.checkTimeoutMs ?? 2_000)))
      const failed = names.flatMap((name, i) => {
        const result = results[i]!
        return result.status === 'rejected' ? [{ name, reason: reasonOf(result.reason) }] : []
      })
      if (failed.length === 0) return { status: 'ready', checks: Object.fromEntries(names.map((n) => [n, 'ok'])) }
      return reply.code(503).send({
        status: 'unavailable',
        // what is down and why, e.g. "not ready: storage (bucket imageapi does not exist at …)"
        message: `not ready: ${failed.map(({ name, reason }) => `${name} (${reason})`).join(', ')}`,
        checks: Object.fromEntries(names.map((n, i) => [n, results[i]!.status === 'fulfilled' ? 'ok' : 'down'])),
      })
    })
    app.get('/metrics', { ...hidden, ...tokenRequired }, async (_request, reply) => {
      return reply.header('content-type', registry.contentType).send(await registry.metrics())
    })
  },
  { name: 'operations' },
)
